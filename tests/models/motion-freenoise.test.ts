// The motion module's FreeNoise windows (windowed temporal self-attention blended per frame) and motion strength
// against a float64 CPU reference written from diffusers' FreeNoiseTransformerBlock loop (tests/ref/motion-module.ts),
// on random weights and inputs; the schedule comes from src/pipeline/freenoise.ts, the reference derives its own.
import { describe, expect, it } from 'vitest';
import { hostF32, memoryWeightMap, type WeightMap } from '../../src/weights/weight-map';
import { MotionModule } from '../../src/models/motion-module';
import { motionModuleWeightShapes } from '../../src/onnx/motion-module-graph';
import { chunkLimits } from '../../src/models/chunking';
import { accumulateFrames, gatherFrames } from '../../src/ops/frame-window';
import { frameWeights, freeNoiseSchedule, type FreeNoiseOptions } from '../../src/pipeline/freenoise';
import { F16, testEngine } from '../gpu';
import { maxAbsDiff, randn } from '../random';
import { motionModuleRef } from '../ref/motion-module';

/** Random canonical weights: linear N(0, 1/in), norm gammas 1 ± 0.2, biases ± 0.2 (O(1) activations). */
function randomWeights(C: number, blocks: number, seed: number): WeightMap & { values: Map<string, Float32Array> } {
  const shapes = motionModuleWeightShapes(C, blocks);
  const values = new Map<string, Float32Array>();
  let s = seed;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = randn(n, s++, shape.length === 2 ? 1 / Math.sqrt(shape[1]) : 0.2);
    if (/norm\d?\.weight$/.test(name)) for (let i = 0; i < n; i++) r[i] += 1;
    values.set(name, r);
  }
  return {
    values,
    ...memoryWeightMap(new Map([...values].map(([k, v]) => [k, hostF32(v, shapes.get(k)!)]))),
  };
}

// Odd sizes: 2 samples (the CFG halves), 2×3 positions, C = 32 in 8 groups, 4 heads, 2 blocks.
const B = 2, H = 2, W = 3, P = H * W, C = 32, HEADS = 4, GROUPS = 8, BLOCKS = 2;
const weights = randomWeights(C, BLOCKS, 500);
const w = (n: string) => weights.values.get(n);

async function runCase(precision: 'f32' | 'f16', F: number, framesPerGroup: number, fn: FreeNoiseOptions | null, strength: number | undefined, seed: number, maxTensorBytes?: number) {
  const e = await testEngine(precision);
  const mm = await MotionModule.load(e, weights, { heads: HEADS, groups: GROUPS });
  const xData = randn(B * F * P * C, seed);
  const x = e.upload(xData, [B * F, H, W, C]);
  const before = e.pool.stats().buffersInUse;
  const windows = fn ? freeNoiseSchedule(F, fn) : undefined;
  const y = mm.forward(e, x, F, framesPerGroup, maxTensorBytes ? chunkLimits(e, maxTensorBytes) : undefined, { windows, strength });
  const got = await e.read(y);
  y.release();
  expect(e.pool.stats().buffersInUse, 'activations released').toBe(before);
  x.release();
  mm.release();
  const ref = motionModuleRef(xData, { B, F, P, C, heads: HEADS, groups: GROUPS, framesPerGroup }, w, {
    freeNoise: fn ? { length: fn.length, stride: fn.stride, weights: frameWeights(fn.length, fn.weighting) } : undefined, strength,
  });
  return { got, ref, ...maxAbsDiff(got, ref) };
}

describe('MotionModule with FreeNoise windows (float64 reference of diffusers FreeNoiseTransformerBlock)', () => {
  const cases: { F: number; fn: FreeNoiseOptions; what: string }[] = [
    { F: 12, fn: { length: 5, stride: 3, weighting: 'pyramid' }, what: 'pyramid, odd L, tail window [7,12) with 1 accumulated frame (the normaliser quirk)' },
    { F: 13, fn: { length: 6, stride: 2, weighting: 'pyramid' }, what: 'pyramid, even L, tail window with 1 frame' },
    { F: 12, fn: { length: 4, stride: 2, weighting: 'flat' }, what: 'flat, windows ending exactly at F' },
    { F: 9, fn: { length: 4, stride: 4, weighting: 'flat' }, what: 'stride = length, tail window' },
  ];
  for (const c of cases) for (const framesPerGroup of [1, c.F]) {
    it(`${c.what}; GroupNorm over ${framesPerGroup} frame(s)`, async () => {
      const r = await runCase('f32', c.F, framesPerGroup, c.fn, undefined, 11 + c.F);
      // f32 through 2 blocks vs float64: measured ≈ 1e-6 relative; 2e-5·max|ref| (the oracle's single-module rule)
      // is far below what a wrong window, coefficient, position restart or tail frame gives (≥ 1e-2 relative).
      expect(r.refMax).toBeGreaterThan(1);
      expect(r.maxAbs, `max |err| ${r.maxAbs} at ${r.at}`).toBeLessThan(2e-5 * r.refMax);
    });
  }

  it('differs from the plain module (the windows act) and equals it when one window covers every frame', async () => {
    const F = 10;
    const windowed = await runCase('f32', F, F, { length: 4, stride: 2, weighting: 'pyramid' }, undefined, 3);
    const one = await runCase('f32', F, F, { length: F, stride: 3, weighting: 'pyramid' }, undefined, 3);
    const plain = await runCase('f32', F, F, null, undefined, 3);
    expect(maxAbsDiff(windowed.got, plain.got).maxAbs).toBeGreaterThan(1e-2 * plain.refMax);
    expect(maxAbsDiff(one.got, plain.got).maxAbs).toBeLessThan(1e-5 * plain.refMax);
  });

  it('composes with the planner\'s chunking (attention over position chunks, feed-forward over row chunks)', async () => {
    // 8000 bytes: a window's fused QKV (2 samples × 5 frames × 96 values × 4 bytes per position) fits 2 of the 6
    // positions; the FF hidden state (8C = 256 values per row) fits 6 rows.
    const r = await runCase('f32', 12, 12, { length: 5, stride: 3, weighting: 'pyramid' }, 0.8, 23, 8000);
    expect(r.maxAbs, `max |err| ${r.maxAbs}`).toBeLessThan(2e-5 * r.refMax);
  });

  it.skipIf(!F16)('f16 engine within 2e-2 of the output maximum', async () => {
    const r = await runCase('f16', 12, 12, { length: 5, stride: 3, weighting: 'pyramid' }, 0.7, 21);
    expect(r.maxAbs).toBeLessThan(2e-2 * r.refMax);
  });

  it('rejects windows that leave frames out', async () => {
    const e = await testEngine('f32');
    const mm = await MotionModule.load(e, weights, { heads: HEADS, groups: GROUPS });
    const x = e.upload(randn(B * 8 * P * C, 1), [B * 8, H, W, C]);
    const coefficients = [1, 1, 1, 1];
    try {
      expect(() => mm.forward(e, x, 8, 1, undefined, { windows: { length: 4, windows: [{ start: 0, from: 0, coefficients }, { start: 5, from: 0, coefficients: [1, 1, 1] }] } })).toThrow(/coefficients/);
      expect(() => mm.forward(e, x, 8, 1, undefined, { windows: { length: 4, windows: [{ start: 0, from: 0, coefficients }] } })).toThrow(/frames 4\.\.7 are in no window/);
      expect(() => mm.forward(e, x, 8, 1, undefined, { windows: { length: 3, windows: [{ start: 0, from: 0, coefficients: [1, 1, 1] }, { start: 4, from: 0, coefficients: [1, 1, 1] }] } })).toThrow(/frame.* 3\.\.3 are in no window/);
    } finally {
      x.release();
      mm.release();
    }
  });
});

describe('motion strength: out = x + s·(module(x) − x)', () => {
  for (const s of [0.5, 1.5]) {
    it(`s = ${s} matches the float64 reference (diffusers GroupNorm)`, async () => {
      const r = await runCase('f32', 8, 8, null, s, 40);
      expect(r.maxAbs, `max |err| ${r.maxAbs}`).toBeLessThan(2e-5 * r.refMax);
    });
  }
  it('s = 0.5 with FreeNoise windows matches the float64 reference', async () => {
    const r = await runCase('f32', 12, 1, { length: 5, stride: 3, weighting: 'pyramid' }, 0.5, 41);
    expect(r.maxAbs).toBeLessThan(2e-5 * r.refMax);
  });
  it('s = 0 gives x exactly; s = 1 is the plain module', async () => {
    const zero = await runCase('f32', 8, 1, null, 0, 42);
    const xData = randn(B * 8 * P * C, 42);
    expect(maxAbsDiff(zero.got, xData).maxAbs).toBe(0);
    const one = await runCase('f32', 8, 1, null, 1, 43);
    const plain = await runCase('f32', 8, 1, null, undefined, 43);
    expect(one.got).toEqual(plain.got);
  });
});

describe('frame-window ops', () => {
  it('gather and accumulate match a direct CPU loop (f32 exact, odd sizes)', async () => {
    const e = await testEngine('f32');
    const Bn = 3, F = 7, Q = 5, L = 4;
    const xData = randn(Bn * F * Q, 9);
    const x = e.upload(xData, [Bn * F, Q]);
    const win = gatherFrames(e, x, F, 2, L);
    const wData = await e.read(win);
    for (let b = 0; b < Bn; b++) for (let j = 0; j < L; j++) for (let q = 0; q < Q; q++) {
      expect(wData[(b * L + j) * Q + q]).toBe(xData[(b * F + 2 + j) * Q + q]);
    }
    // acc: frames 0..3 from an earlier window; this window (start 2, from 1) adds to frames 3 and writes 4, 5 fresh
    // (they hold NaN garbage first, which must not leak in).
    const accInit = Float32Array.from({ length: Bn * F * Q }, (_, i) => (Math.floor(i / Q) % F < 4 ? i * 0.01 : NaN));
    const acc = e.upload(accInit, [Bn * F, Q]);
    const c = [0.5, 0.25, 2, -1];
    accumulateFrames(e, acc, win, F, { start: 2, from: 1, coefficients: c, written: 4 });
    const got = await e.read(acc);
    for (let b = 0; b < Bn; b++) for (let f = 0; f < F; f++) for (let q = 0; q < Q; q++) {
      const i = (b * F + f) * Q + q;
      const j = f - 2;
      let want = accInit[i];
      if (j >= 1 && j < L) want = Math.fround(c[j] * wData[(b * L + j) * Q + q] + (f < 4 ? accInit[i] : 0));
      if (Number.isNaN(want)) expect(got[i]).toBeNaN();
      else expect(got[i]).toBeCloseTo(want, 6);
    }
    for (const t of [x, win, acc]) t.release();
  });
});
