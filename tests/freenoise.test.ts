// FreeNoise's pure parts (src/pipeline/freenoise.ts): window schedule, weights, blend coefficients and the
// shuffle_context noise, against what diffusers v0.39.0 recorded in the oracle (freenoise_tiny, prompt_travel_tiny).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile } from '../src/conformance/tensor-file';
import {
  frameWeights, freeNoiseInitialNoise, freeNoiseSchedule, FreeNoiseOptionsError, seededPermutations, shuffleFrames, shuffleSchedule,
} from '../src/pipeline/freenoise';
import { initialNoise } from '../src/pipeline/rng';

const VECTORS = path.resolve(__dirname, '../../shared/oracle/vectors');
const folders = ['freenoise_tiny', 'prompt_travel_tiny'].map((set) => {
  const dir = path.join(VECTORS, set, 'vA');
  return {
    set,
    config: JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')),
    outputs: parseTensorFile(readFileSync(path.join(dir, 'outputs.safetensors')), `${set}/outputs`),
  };
});
const recordedRuns = folders.flatMap(({ set, config, outputs }) =>
  Object.entries(config.runs as Record<string, any>).map(([run, r]) => ({ set, run, r, outputs })));

describe('FreeNoise weights', () => {
  it('pyramid and flat as diffusers _get_frame_weights', () => {
    expect(frameWeights(8, 'pyramid')).toEqual([1, 2, 3, 4, 4, 3, 2, 1]);
    expect(frameWeights(10, 'pyramid')).toEqual([1, 2, 3, 4, 5, 5, 4, 3, 2, 1]);
    expect(frameWeights(5, 'pyramid')).toEqual([1, 2, 3, 2, 1]);
    expect(frameWeights(1, 'pyramid')).toEqual([1]);
    expect(frameWeights(3, 'flat')).toEqual([1, 1, 1]);
    expect(() => frameWeights(4, 'sawtooth' as never)).toThrow(FreeNoiseOptionsError);
  });
});

describe('FreeNoise window schedule vs the recorded upstream forward', () => {
  expect(recordedRuns.length).toBeGreaterThanOrEqual(4);
  for (const { set, run, r } of recordedRuns) {
    it(`${set} ${run}: windows, normaliser and blend coefficients`, () => {
      const fn = r.free_noise;
      const kw = fn.enable_free_noise_kwargs;
      const s = freeNoiseSchedule(fn.num_frames, { length: kw.context_length, stride: kw.context_stride, weighting: kw.weighting_scheme });
      expect(s.weights).toEqual(fn.window_weights.map(Number));
      expect(s.windows.map((w) => [w.start, w.start + kw.context_length])).toEqual(fn.windows);
      expect(s.normaliser).toEqual(fn.frame_normaliser);
      // The tail window accumulates only its last m frames.
      const tail = fn.tail_window;
      const last = s.windows[s.windows.length - 1];
      if (tail) {
        expect(last.from).toBe(kw.context_length - tail.m);
        expect(tail.accumulated_frames).toEqual(Array.from({ length: tail.m }, (_, k) => last.start + last.from + k));
      } else {
        expect(s.windows.every((w) => w.from === 0)).toBe(true);
      }
      // blend_coefficients: windows × F, value weight / normaliser.
      const F = fn.num_frames;
      fn.blend_coefficients.forEach((row: number[], wi: number) => {
        const w = s.windows[wi];
        const mine = Array.from({ length: F }, (_, f) => (f >= w.start && f < w.start + kw.context_length ? w.coefficients[f - w.start] : 0));
        mine.forEach((v, f) => expect(v).toBeCloseTo(row[f], 14));
      });
      const sums = Array.from({ length: F }, (_, f) => s.windows.reduce((a, w) => a + (f >= w.start && f < w.start + kw.context_length ? w.coefficients[f - w.start] : 0), 0));
      sums.forEach((v, f) => expect(v).toBeCloseTo(fn.blend_coefficient_sum_per_frame[f], 14));
    });
  }

  it('one window covering every frame blends with coefficient 1 (= plain temporal attention)', () => {
    for (const weighting of ['pyramid', 'flat'] as const) {
      const s = freeNoiseSchedule(7, { length: 7, stride: 3, weighting });
      expect(s.windows).toHaveLength(1);
      expect(s.windows[0].coefficients).toEqual(new Array(7).fill(1));
    }
  });

  it('every frame is covered with coefficients summing to 1 except diffusers\' pyramid tail quirk', () => {
    for (let F = 4; F <= 40; F++) for (const L of [4, 5, 8]) for (let S = 1; S <= L; S++) for (const weighting of ['pyramid', 'flat'] as const) {
      if (L > F) continue;
      const s = freeNoiseSchedule(F, { length: L, stride: S, weighting });
      const sum = new Array(F).fill(0);
      for (const w of s.windows) w.coefficients.forEach((c, j) => { sum[w.start + j] += c; });
      const tail = s.windows.find((w) => w.from > 0);
      for (let f = 0; f < F; f++) {
        const inTail = tail !== undefined && f >= tail.start + tail.from;
        if (weighting === 'flat' || !inTail) expect(sum[f], `F ${F} L ${L} S ${S} ${weighting} frame ${f}`).toBeCloseTo(1, 12);
        else expect(sum[f]).toBeGreaterThan(0);
      }
    }
  });

  it('rejects settings diffusers cannot run or that leave frames without a window', () => {
    expect(() => freeNoiseSchedule(6, { length: 8, stride: 4, weighting: 'flat' })).toThrow(/exceeds the 6 frames/);
    expect(() => freeNoiseSchedule(24, { length: 8, stride: 9, weighting: 'flat' })).toThrow(/stride 9 exceeds/);
    expect(() => freeNoiseSchedule(24, { length: 8, stride: 0, weighting: 'flat' })).toThrow(FreeNoiseOptionsError);
    expect(() => freeNoiseSchedule(24, { length: 2.5, stride: 1, weighting: 'flat' })).toThrow(FreeNoiseOptionsError);
  });
});

describe('FreeNoise shuffle_context noise', () => {
  for (const { set, run, r, outputs } of recordedRuns) {
    it(`${set} ${run}: the schedule, and raw noise + recorded permutations give latents_init bit for bit`, () => {
      const fn = r.free_noise;
      const kw = fn.enable_free_noise_kwargs;
      const steps = shuffleSchedule(fn.num_frames, { length: kw.context_length, stride: kw.context_stride });
      expect(steps.map((s) => ({ i: s.i, source_window: [s.source, s.source + s.permSize], randperm_n: s.permSize, target: [s.target, s.target + s.count], partial: s.count < s.permSize })))
        .toEqual(fn.noise_shuffle.schedule);
      const raw = outputs.get(`${run}.free_noise.raw_noise`)!;
      const perms = steps.map((_, k) => outputs.get(`${run}.free_noise.perm${k}`)!.data);
      const [b, c, F, h, w] = raw.shape;
      const got = shuffleFrames(Float32Array.from(raw.data), b * c, F, h * w, steps, perms);
      const want = Float32Array.from(outputs.get(`${run}.latents_init`)!.data);
      expect(got).toEqual(want);
      expect(Float32Array.from(raw.data)).not.toEqual(want); // the shuffle did something
    });
  }

  it('later steps copy frames earlier steps wrote (in place, gathered before writing)', () => {
    // F 10, L 2, S 2: step i=4 reads frames 2,3, which step i=2 wrote from frames 0,1.
    const steps = shuffleSchedule(10, { length: 2, stride: 2 });
    const noise = Float32Array.from({ length: 10 }, (_, f) => f);
    const out = shuffleFrames(noise, 1, 10, 1, steps, steps.map(() => [1, 0]));
    expect(Array.from(out)).toEqual([0, 1, 1, 0, 0, 1, 1, 0, 0, 1]);
  });

  it('seeded permutations are permutations, reproducible, seed-dependent and uniform', () => {
    const steps = shuffleSchedule(64, { length: 16, stride: 4 });
    const a = seededPermutations(123, steps), b = seededPermutations(123, steps), c = seededPermutations(124, steps);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    for (const p of a) expect([...p].sort((x, y) => x - y)).toEqual([0, 1, 2, 3]);
    // 6000 seeds of a 3-permutation: each of the 6 orders ≈ 1000 (binomial sd ≈ 29; 6 sd bound).
    const one = shuffleSchedule(4, { length: 1, stride: 1 }).slice(0, 1).map((s) => ({ ...s, permSize: 3 }));
    const counts = new Map<string, number>();
    for (let seed = 0; seed < 6000; seed++) {
      const k = seededPermutations(seed, one)[0].join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(175);
  });

  it('seeded initial noise: frames < L are the seed\'s plain noise, later frames are copies of earlier ones', () => {
    const [C, F, h, w] = [4, 20, 3, 2];
    const plane = h * w;
    const plain = initialNoise(9, C, F, h, w);
    const noise = freeNoiseInitialNoise(9, C, F, h, w, { length: 8, stride: 4 });
    for (let c = 0; c < C; c++) {
      expect(noise.subarray(c * F * plane, (c * F + 8) * plane)).toEqual(plain.subarray(c * F * plane, (c * F + 8) * plane));
    }
    // Every frame f ≥ 8 equals, in every channel, one frame of its source window [f' - 8, f' - 4) for its step.
    for (const s of shuffleSchedule(F, { length: 8, stride: 4 })) for (let j = 0; j < s.count; j++) {
      const f = s.target + j;
      const src = Array.from({ length: s.permSize }, (_, k) => s.source + k).find((g) =>
        Array.from({ length: C }, (_, c) => c).every((c) => noise.subarray((c * F + f) * plane, (c * F + f + 1) * plane).every((v, i) => v === noise[(c * F + g) * plane + i])));
      expect(src, `frame ${f}`).toBeDefined();
    }
    expect(freeNoiseInitialNoise(9, C, F, h, w, { length: 8, stride: 4 })).toEqual(noise);
  });
});
