// UNet-level sliding context windows (spec context.method 'uniform') inside generate(), on the tiny oracle models
// with the project's own seeded noise: one window covering every frame is the plain run bit for bit; every window
// of every step runs (progress "window w of W"); GPU memory is bounded by one window (128 frames in windows of 16
// peak no higher than 16 frames plain); and the closed loop is rotation-equivariant.
import { describe, expect, it } from 'vitest';
import { uniformWindows } from '../src/pipeline/context-windows';
import { generate, type GenerateOptions, type PipelineModels } from '../src/pipeline/generate';
import { initialNoise } from '../src/pipeline/rng';
import { type GenerationSpec, makeSpec, type UniformContext } from '../src/pipeline/spec';
import { defaultSchedulerFor } from '../src/schedulers';
import { testEngine } from './gpu';
import { oraclePipeline } from './oracle-pipeline';
import { maxAbsDiff } from './random';

const oracle = oraclePipeline('pipeline_tiny');
let models: Promise<PipelineModels> | null = null;
const tinyModels = () => (models ??= testEngine('f32').then((e) => oracle.loadModels(e, { semantics: 'diffusers' })));

const ddim = defaultSchedulerFor('v2');
/** Latent channels and the VAE's pixels per latent pixel, from the oracle's files. */
const C = oracle.latentShape[1];
const UPSCALE = 2 ** (oracle.vaeConfig.block_out_channels.length - 1);

/** No CFG (one text for every frame, so frames are interchangeable apart from the noise), DDIM (no injected noise). */
function request(frames: number, steps: number, context: UniformContext | null, noise?: Float32Array, latent = 8): [GenerationSpec, GenerateOptions] {
  const spec = makeSpec({ prompt: '(replayed embeddings)', seed: 3, frames, width: UPSCALE * latent, height: UPSCALE * latent, steps, guidance: 1, context });
  return [spec, {
    scheduler: { className: ddim.className, config: ddim.config },
    embeddings: oracle.embeddings({ negative: false }),
    initialNoise: noise, decode: false,
  }];
}

async function run([spec, opts]: [GenerationSpec, GenerateOptions]) {
  const windows: [number, number, number][] = [];
  const res = await generate(await tinyModels(), spec, { onWindow: (i) => windows.push([i.step, i.window, i.windows]) }, opts);
  return { latents: res.latents, windows };
}

/** Rotate (1, C, F, h, w) latents by k frames: out[f] = x[(f − k) mod F]. */
function rotate(x: Float32Array, F: number, k: number): Float32Array {
  const out = new Float32Array(x.length);
  const plane = x.length / (C * F);
  for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) {
    const src = (c * F + (((f - k) % F) + F) % F) * plane;
    out.set(x.subarray(src, src + plane), (c * F + f) * plane);
  }
  return out;
}

const uniform = (length: number, overlap: number, stride: number, closedLoop: boolean): UniformContext => ({ method: 'uniform', length, overlap, stride, closedLoop, fuse: 'pyramid' });

describe('UNet-level context windows in generate() (tiny oracle models, f32)', () => {
  it('one window covering every frame is exactly the plain run (window as long as the clip, and longer)', async () => {
    const plain = await run(request(6, 2, null));
    for (const L of [6, 9]) {
      const one = await run(request(6, 2, uniform(L, 2, 1, true)));
      expect([...one.latents]).toEqual([...plain.latents]);
      expect(one.windows).toEqual([[1, 1, 1], [2, 1, 1]]);
    }
    expect(plain.windows).toEqual([]);
  }, 600_000);

  it('128 frames in windows of 16: every window of every step runs, and the GPU peak is that of 16 frames', async () => {
    const m = await tinyModels();
    const e = m.engine;
    const ctx = uniform(16, 4, 1, false);
    const measure = async (r: [GenerationSpec, GenerateOptions]) => {
      e.pool.trim();
      e.pool.resetPeak();
      const out = await run(r);
      return { ...out, peak: e.pool.stats().peakBytes };
    };
    const plain16 = await measure(request(16, 1, null));
    const long = await measure(request(128, 1, ctx));
    const W = uniformWindows(128, ctx, 0).length;
    expect(W).toBeGreaterThan(8);
    expect(long.windows).toEqual([...Array(W).keys()].map((i) => [1, i + 1, W]));
    expect(long.latents.length).toBe(C * 128 * 8 * 8);
    expect(long.latents.every(Number.isFinite)).toBe(true);
    console.log(`GPU pool peak: 16 frames plain ${plain16.peak} B, 128 frames in ${W} windows of 16: ${long.peak} B`);
    expect(long.peak).toBeLessThanOrEqual(plain16.peak * 1.05);
  }, 900_000);

  it('closed loop: rotating the initial noise by k = 8 frames rotates the result by 8 frames; open windows do not', async () => {
    // F 16, windows of 8 overlapping by 4: windows start every 8 − 4 = 4 frames and F is a multiple of 4, so at
    // every step the looped schedule maps onto itself under a rotation by any multiple of 4 (the per-step shift,
    // ordered_halving, moves all windows together). k = 8 is such a multiple and not a symmetry of anything else
    // (F/2, not a window length); one text for every frame and DDIM's deterministic steps leave nothing else
    // frame-dependent. (Dilated windows are checked for the same symmetry in tests/context-windows.test.ts.)
    // 32×32 images (4×4 latents), 2 steps: the second step's windows are shifted by ordered_halving(1) = ½.
    const F = 16, k = 8, latent = 4;
    const noise = initialNoise(3, C, F, latent, latent);
    const loop = uniform(8, 4, 1, true);
    const a = await run(request(F, 2, loop, noise, latent));
    const b = await run(request(F, 2, loop, rotate(noise, F, k), latent));
    const d = maxAbsDiff(b.latents, rotate(a.latents, F, k));
    console.log(`closed loop, k = ${k}: max |out(rotated noise) − rotated out| = ${d.maxAbs.toExponential(2)} (output max ${d.refMax.toFixed(2)})`);
    expect(d.maxAbs).toBeLessThan(1e-4 * Math.max(1, d.refMax));
    // The same with open windows breaks the symmetry (the ends are not neighbours): the test can tell.
    const open = uniform(8, 4, 1, false);
    const c = await run(request(F, 2, open, noise, latent));
    const e2 = await run(request(F, 2, open, rotate(noise, F, k), latent));
    expect(maxAbsDiff(e2.latents, rotate(c.latents, F, k)).maxAbs).toBeGreaterThan(1e-2 * d.refMax);
  }, 1_800_000);
});
