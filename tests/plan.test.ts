// The memory planner (src/plan) against the engine's tracked peak of real runs on the tiny oracle models: several
// sizes (odd latent sizes included), frame counts, CFG on and off, f32 and f16, and a forced small binding limit
// (which changes the chunking). The planner must agree within 10 %. The runs use the planner's activation arena,
// and must give the same bits as pool-only runs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DType } from '../src/gpu/tensor';
import { hyperParamsFromDiffusers } from '../src/models/config';
import { UNetMotion } from '../src/models/unet';
import { VaeDecoder } from '../src/models/vae-decoder';
import { generate, type GenerateOptions } from '../src/pipeline/generate';
import { makeSpec } from '../src/pipeline/spec';
import { planRun, PlanRefusedError, type PlanModels, runShapeOf } from '../src/plan/plan';
import { tensorBytes, weightBytes } from '../src/plan/weights';
import { createNodeEngine } from '../src/platform/node-gpu';
import { openNodeFileSource } from '../src/platform/node-file-source';
import { defaultSchedulerFor } from '../src/schedulers';
import { loadWeights } from '../src/weights/load';
import { openSafetensors } from '../src/weights/safetensors';
import { cannotRun } from './gpu';

const VECTORS = path.resolve(__dirname, '../../shared/oracle/vectors');
const unetConfig = JSON.parse(readFileSync(path.join(VECTORS, 'unet_motion_tiny/vA/config.json'), 'utf8'));
const vaeConfig = JSON.parse(readFileSync(path.join(VECTORS, 'vae_decoder_tiny/vA/config.json'), 'utf8')).vae_config;
const hyper = hyperParamsFromDiffusers(unetConfig.unet_config, unetConfig.motion_adapter_config);
const vaeCfg = { groups: vaeConfig.norm_num_groups, scalingFactor: vaeConfig.scaling_factor };

async function tinyWeights() {
  const open = async (rel: string) => openSafetensors(await openNodeFileSource(path.join(VECTORS, rel)));
  return loadWeights([await open('unet_motion_tiny/vA/unet_diffusers.safetensors'), await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors'), await open('vae_decoder_tiny/vA/vae_diffusers.safetensors')]);
}

const CASES: { width: number; height: number; frames: number; cfg: boolean; dtype: DType; maxBindingBytes?: number }[] = [
  { width: 64, height: 64, frames: 4, cfg: true, dtype: 'f32' },
  { width: 96, height: 64, frames: 3, cfg: true, dtype: 'f16' },
  // 256 KiB bindings: the VAE's full-resolution tensors (32 channels × 64 × 136 × 4 B = 1.1 MiB) need row tiles.
  { width: 64, height: 136, frames: 2, cfg: false, dtype: 'f32', maxBindingBytes: 256 * 1024 },
  { width: 32, height: 32, frames: 12, cfg: true, dtype: 'f32', maxBindingBytes: 128 * 1024 },
];

describe('planRun: predicted peak vs the engine\'s tracked peak (tiny oracle models)', () => {
  for (const c of CASES) {
    it.skipIf(cannotRun(c.dtype))(`${c.width}×${c.height}, ${c.frames} frames, CFG ${c.cfg ? 'on' : 'off'}, ${c.dtype}${c.maxBindingBytes ? `, binding limit ${c.maxBindingBytes / 1024} KiB` : ''}`, async () => {
      const w = await tinyWeights();
      const e = await createNodeEngine({ precision: c.dtype, maxBindingBytes: c.maxBindingBytes });
      try {
        const models: PlanModels = { unet: w.unet!, hyper, vae: w.vae!, vaeConfig: vaeCfg, semantics: 'diffusers' };
        const plan = await planRun(models, { width: c.width, height: c.height, frames: c.frames, cfg: c.cfg, activations: c.dtype, weights: c.dtype }, {
          maxStorageBufferBindingSize: e.maxBindingBytes, maxBufferSize: e.limits.maxBufferSize, minStorageBufferOffsetAlignment: e.limits.minStorageBufferOffsetAlignment,
        });
        const unet = await UNetMotion.load(e, w.unet!, hyper, { semantics: 'diffusers' });
        const vae = await VaeDecoder.load(e, w.vae!, vaeCfg);
        const sched = defaultSchedulerFor('v2');
        const dim = unet.topology.crossAttentionDim;
        const spec = makeSpec({ prompt: '(embeddings)', seed: 1, frames: c.frames, width: c.width, height: c.height, steps: c.maxBindingBytes ? 1 : 2, guidance: c.cfg ? 7.5 : 1 });
        const request: GenerateOptions = {
          scheduler: { className: sched.className, config: sched.config },
          embeddings: { positive: new Float32Array(77 * dim).fill(0.1), negative: new Float32Array(77 * dim), tokens: 77, dim },
        };
        // The run as the worker makes it: the planner's chunk budget and activation arena.
        expect(plan.arena).not.toBeNull();
        const res = await generate({ engine: e, unet, vae }, spec, {}, { ...request, maxTensorBytes: plan.maxTensorBytes, arena: plan.arena, vae: plan.vae });
        expect(res.frames.length).toBe(c.frames);
        const tracked = e.pool.stats().peakBytes;
        // The arena changes where tensors live, never what is computed: the pool-only run gives the same bits.
        const pooled = await generate({ engine: e, unet, vae }, spec, {}, { ...request, maxTensorBytes: plan.maxTensorBytes, vae: plan.vae });
        expect(Buffer.from(pooled.latents.buffer).equals(Buffer.from(res.latents.buffer)), 'arena and pool runs differ').toBe(true);
        unet.release();
        vae.release();
        const ratio = plan.enginePeakBytes / tracked;
        console.log(`${c.width}×${c.height}×${c.frames} ${c.dtype} cfg=${c.cfg}: planned ${plan.enginePeakBytes} B, tracked ${tracked} B (×${ratio.toFixed(4)}); arena slabs ${plan.arena?.slabs.join('+')} B (live bound ${plan.liveBoundBytes} B); chunking ${JSON.stringify(plan.chunking.levels.map((l) => [l.spatialFrames, l.motionPositions, l.ffRows]))}, samples/pass ${plan.chunking.samplesPerPass}, VAE ${plan.vae.frames} frame(s) × ${plan.vae.rows} rows`);
        expect(Math.abs(ratio - 1)).toBeLessThanOrEqual(0.1);
        const rows = plan.chunking.samplesPerPass * c.frames;
        // A binding limit splits something: the UNet's layers, or the VAE's rows (whole images would not bind).
        if (c.maxBindingBytes) expect(plan.chunking.levels.some((l) => l.ffRows < rows * l.h * l.w || l.motionPositions < l.h * l.w || l.spatialFrames < rows) || plan.vae.rows < c.height).toBe(true);
        if (c.height === 136) expect(plan.vae.rows).toBeLessThan(c.height);
      } finally {
        e.destroy();
      }
    }, 300_000);
  }

  it('traces the run\'s own spec: FreeNoise windows and prompt travel replay the arena with no fallback, within 10 %', async () => {
    const w = await tinyWeights();
    const e = await createNodeEngine({ precision: 'f32' });
    try {
      const models: PlanModels = { unet: w.unet!, hyper, vae: w.vae!, vaeConfig: vaeCfg, semantics: 'diffusers' };
      const limits = { maxStorageBufferBindingSize: e.maxBindingBytes, maxBufferSize: e.limits.maxBufferSize, minStorageBufferOffsetAlignment: e.limits.minStorageBufferOffsetAlignment };
      const spec = makeSpec({
        prompts: [{ frame: 0, prompt: 'a' }, { frame: 4, prompt: 'b' }], seed: 3, frames: 6, width: 32, height: 40, steps: 1, guidance: 7.5,
        context: { method: 'freenoise', length: 4, stride: 2, weighting: 'pyramid', noise: 'shuffle_context' },
      });
      const precision = { activations: 'f32' as const, weights: 'f32' as const };
      const plan = await planRun(models, runShapeOf(spec, precision), limits);
      const plain = await planRun(models, { ...runShapeOf(spec, precision), spec: undefined }, limits);
      expect(plan.arena).not.toBeNull();
      const unet = await UNetMotion.load(e, w.unet!, hyper, { semantics: 'diffusers' });
      const vae = await VaeDecoder.load(e, w.vae!, vaeCfg);
      const dim = unet.topology.crossAttentionDim;
      const text = { tokens: 77, dim, encode: async (prompts: string[]) => new Float32Array(prompts.length * 77 * dim).fill(0.1) };
      const sched = defaultSchedulerFor('v2');
      const run = (arena: typeof plan.arena) => generate({ engine: e, unet, vae, text }, spec, {}, { scheduler: { className: sched.className, config: sched.config }, maxTensorBytes: plan.maxTensorBytes, arena });
      e.pool.resetPeak();
      await run(plan.arena);
      const tracked = e.pool.stats().peakBytes;
      expect(e.pool.stats().arenaFallbacks, 'the spec\'s plan did not match the run').toBe(0);
      // The plain spec's arena (one prompt, no windows) does not describe this run: the pool takes over.
      await run(plain.arena);
      expect(e.pool.stats().arenaFallbacks).toBeGreaterThan(0);
      unet.release();
      vae.release();
      const ratio = plan.enginePeakBytes / tracked;
      console.log(`FreeNoise + prompt travel 32×40×6: planned ${plan.enginePeakBytes} B, tracked ${tracked} B (×${ratio.toFixed(4)}); plain-spec plan ${plain.enginePeakBytes} B`);
      expect(Math.abs(ratio - 1)).toBeLessThanOrEqual(0.1);
    } finally {
      e.destroy();
    }
  }, 300_000);

  it('decodes several frames per call when the UNet\'s activations are over twice one frame\'s decode, never raising the peak', async () => {
    const w = await tinyWeights();
    const models: PlanModels = { unet: w.unet!, hyper, vae: w.vae!, vaeConfig: vaeCfg, semantics: 'diffusers' };
    const limits = { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 30 };
    const many = await planRun(models, { width: 16, height: 16, frames: 32, cfg: true, activations: 'f32', weights: 'f32' }, limits);
    expect(many.vae.frames).toBe(2);
    expect(many.breakdown.vaeActivations).toBeLessThanOrEqual(many.breakdown.unetActivations);
    const few = await planRun(models, { width: 16, height: 16, frames: 4, cfg: true, activations: 'f32', weights: 'f32' }, limits);
    expect(few.vae.frames).toBe(1);
  }, 120_000);

  it('refuses a spec that disagrees with the run shape', async () => {
    const w = await tinyWeights();
    const spec = makeSpec({ prompt: 'x', frames: 4, width: 32, height: 32, guidance: 7.5 });
    await expect(planRun({ unet: w.unet!, hyper, vae: w.vae!, vaeConfig: vaeCfg }, { ...runShapeOf(spec, { activations: 'f32', weights: 'f32' }), frames: 5 }, { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 30 }))
      .rejects.toThrow(/disagrees with the run shape/);
  });

  it('refuses a run whose whole-frame tensors cannot fit one binding, naming the sizes and the limit', async () => {
    const w = await tinyWeights();
    const models: PlanModels = { unet: w.unet!, hyper, vae: w.vae!, vaeConfig: vaeCfg };
    const run = planRun(models, { width: 512, height: 512, frames: 16, cfg: true, activations: 'f32', weights: 'f32' }, { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 30 });
    await expect(run).rejects.toBeInstanceOf(PlanRefusedError);
    await expect(run).rejects.toThrow(/512×512 with 16 frames .*over the 1048576-byte binding limit/);
  });

  it('says when a run does not fit the memory budget, with both figures', async () => {
    const w = await tinyWeights();
    const plan = await planRun({ unet: w.unet!, hyper, vae: w.vae!, vaeConfig: vaeCfg }, { width: 64, height: 64, frames: 2, cfg: true, activations: 'f32', weights: 'f32' }, { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 30, memoryBytes: 1 << 20 });
    expect(plan.fits).toBe(false);
    expect(plan.reason).toMatch(/needs \d+\.\d\d GiB of GPU memory; 0\.00 GiB is available/);
  });
});

describe('weight bytes per precision', () => {
  it('f32/f16 by element, int8 = 1 byte per weight + one f32 scale per output channel, int4 = ½ byte + one f16 scale per 16 of K', () => {
    expect(tensorBytes('a.weight', [320, 320, 3, 3], 'f16', 'f16')).toBe(320 * 2880 * 2);
    expect(tensorBytes('a.weight', [320, 2880], 'int8', 'f16')).toBe(320 * 2880 + 320 * 4);
    expect(tensorBytes('a.weight', [320, 2880], 'int4', 'f16')).toBe(320 * 1440 + 320 * (2880 / 16) * 2);
    expect(tensorBytes('a.weight', [5, 36], 'int4', 'f32')).toBe(5 * (5 + 2) * 4); // K padded to whole words, 3 groups → 2 scale words
    expect(tensorBytes('a.bias', [320], 'int4', 'f16')).toBe(640); // biases and norms stay float
  });

  it('a model\'s bytes drop about 2× (int8) and 3.2× (int4: 5 bits per weight) from f16', async () => {
    const w = await tinyWeights();
    const f16 = weightBytes(w.unet!, 'f16', 'f16');
    expect(weightBytes(w.unet!, 'int8', 'f16') / f16).toBeLessThan(0.56);
    expect(weightBytes(w.unet!, 'int4', 'f16') / f16).toBeLessThan(0.34);
  });
});
