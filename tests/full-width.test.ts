// The real SD1.5 UNet + AnimateDiff v2 and v3 motion modules (and the SD1.5 VAE decoder) at full channel width:
// every key and shape from the manifests of the real checkpoints, random F16 weights made in-process
// (tests/ref/synthetic-model.ts), read through the real safetensors reader and loaders onto the GPU.
// v2: one DDIM step with CFG at 64×64 pixels (8×8 latents) and 2 frames on the software adapter, f16 activations
// with f16, int8 and int4 UNet weights. Checks: every output finite; int8/int4 relative errors against f16 weights
// reported and bounded; the memory planner's predicted peak within 10 % of the engine's tracked peak, and its weight
// bytes within 1 % of what the engine allocated. v3: loaded (f16), its topology and weight bytes checked; not run
// (see the test). The VAE is loaded (its weights count) but not run: the tiny-pipeline tests cover it.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { hyperParamsFromDiffusers } from '../src/models/config';
import { UNetMotion } from '../src/models/unet';
import { VaeDecoder } from '../src/models/vae-decoder';
import { generate } from '../src/pipeline/generate';
import { describePrecision, type Precision, weightFormatOf } from '../src/pipeline/precision';
import { makeSpec } from '../src/pipeline/spec';
import { planRun } from '../src/plan/plan';
import { createNodeEngine } from '../src/platform/node-gpu';
import { defaultSchedulerFor } from '../src/schedulers';
import { loadWeights } from '../src/weights/load';
import { openSafetensors } from '../src/weights/safetensors';
import { F16 } from './gpu';
import { randn } from './random';
import { type Manifest, readManifest, syntheticSafetensors } from './ref/synthetic-model';

const UNET = readManifest('sd15_unet_diffusers.json');
const VAE = readManifest('sd15_vae_diffusers.json');
const ADAPTERS: Record<'v2' | 'v3', Manifest> = {
  v2: readManifest('motion_adapter_v1-5-2_diffusers.json'),
  v3: readManifest('motion_adapter_v1-5-3_diffusers.json'),
};
const RUN = { width: 64, height: 64, frames: 2, steps: 1, guidance: 7.5 };
/**
 * Relative L2 error bounds against f16 weights. On the tiny oracle UNet the noise prediction moves by 2.4e-2 (int8)
 * and 2.8e-1 (int4) (tests/quant-quality.test.ts); a wrong index or scale in a quantized loader gives errors of
 * order 1 or non-finite values. Measured here (noise prediction / latents): int8 4.6e-2 / 2.6e-3, int4 3.8e-1 /
 * 2.1e-2 (docs/weights.md).
 */
const MAX_REL: Record<'int8' | 'int4', number> = { int8: 0.07, int4: 0.5 };

function relL2(a: Float32Array, ref: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - ref[i]) ** 2; n += ref[i] ** 2; }
  return Math.sqrt(d / n);
}

const allFinite = (a: Float32Array) => a.every(Number.isFinite);

type Loaded = Awaited<ReturnType<typeof loadWeights>>;

/** The synthetic files of one motion-module version through the real reader and loader (header-only until read). */
async function openFiles(version: 'v2' | 'v3'): Promise<{ w: Loaded; hyper: ReturnType<typeof hyperFor> }> {
  const files = [
    await openSafetensors(syntheticSafetensors('sd15_unet.safetensors', [UNET], 1)),
    await openSafetensors(syntheticSafetensors(`mm_sd_${version}.safetensors`, [ADAPTERS[version]], 2)),
    await openSafetensors(syntheticSafetensors('sd15_vae.safetensors', [VAE], 3)),
  ];
  return { w: await loadWeights(files, { motionVersion: version }), hyper: hyperFor(version) };
}

const hyperFor = (version: 'v2' | 'v3') => ({ ...hyperParamsFromDiffusers(UNET.config ?? {}, ADAPTERS[version].config ?? {}), motionVersion: version });
const vaeConfig = { groups: VAE.config?.norm_num_groups, scalingFactor: VAE.config?.scaling_factor };

/**
 * One run on a fresh engine (its tracked peak then covers exactly this run's buffers): the planner first, as the
 * worker does, then the UNet (f16 weights, or quantized from them at load) and the VAE through the real GPU loaders,
 * then, when `step`, one DDIM step with CFG (the VAE is loaded, so its weights count in the peak, but not run: a
 * 64×64 decode adds minutes on a CPU adapter and the tiny-pipeline tests cover it).
 */
async function runOnce(version: 'v2' | 'v3', { w, hyper }: Awaited<ReturnType<typeof openFiles>>, precision: Precision, step: boolean) {
  const e: Engine = await createNodeEngine({ precision: precision.activations });
  try {
    const plan = await planRun({ unet: w.unet!, hyper, vae: w.vae!, vaeConfig }, {
      width: RUN.width, height: RUN.height, frames: RUN.frames, cfg: true, activations: precision.activations, weights: precision.weights,
    }, { maxStorageBufferBindingSize: e.maxBindingBytes, maxBufferSize: e.limits.maxBufferSize, minStorageBufferOffsetAlignment: e.limits.minStorageBufferOffsetAlignment });
    const t0 = performance.now(), c0 = cpuSeconds();
    const unet = await UNetMotion.load(e, w.unet!, hyper, { weights: weightFormatOf(precision) });
    const vae = await VaeDecoder.load(e, w.vae!, vaeConfig);
    const loadMs = performance.now() - t0, loadCpu = cpuSeconds() - c0;
    const weightsLoaded = e.pool.stats().liveBytes;
    console.log(`${version} ${describePrecision(precision)}: loaded in ${(loadMs / 1000).toFixed(1)} s`);
    let eps: Float32Array | null = null, latents: Float32Array | null = null, runMs = 0, runCpu = 0;
    if (step) {
      const dim = unet.topology.crossAttentionDim;
      const sched = defaultSchedulerFor(version);
      const t1 = performance.now(), c1 = cpuSeconds();
      const spec = makeSpec({ prompt: '(random embeddings)', seed: 7, ...RUN });
      const res = await generate({ engine: e, unet, vae }, spec, { onStepRecord: (r) => { eps = r.noisePred; } }, {
        scheduler: { className: sched.className, config: sched.config },
        embeddings: { positive: randn(77 * dim, 11), negative: randn(77 * dim, 12), tokens: 77, dim },
        decode: false,
        maxTensorBytes: plan.maxTensorBytes, arena: plan.arena,
      });
      latents = res.latents;
      runMs = performance.now() - t1;
      runCpu = cpuSeconds() - c1;
      console.log(`${version} ${describePrecision(precision)}: one step with CFG in ${(runMs / 1000).toFixed(1)} s`);
    }
    const tracked = e.pool.stats().peakBytes;
    const topology = unet.topology;
    unet.release();
    vae.release();
    return {
      eps, latents, tracked, planned: plan.enginePeakBytes, loadMs, runMs, loadCpu, runCpu, topology,
      weightsLoaded, weightsPlanned: plan.breakdown.unetWeights + plan.breakdown.vaeWeights,
    };
  } finally {
    e.destroy();
  }
}
type Run = Awaited<ReturnType<typeof runOnce>>;

/** CPU seconds of this process, the adapter's threads included (lavapipe runs in-process): a load-independent cost. */
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const report = (version: string, p: Precision, r: Run, extra = '') => console.log(
  `${version} ${describePrecision(p)}: load ${(r.loadMs / 1000).toFixed(1)} s (${r.loadCpu.toFixed(0)} CPU-s)` +
  `${r.eps ? `, run ${(r.runMs / 1000).toFixed(1)} s (${r.runCpu.toFixed(0)} CPU-s)` : ''}; ` +
  `weights planned ${mib(r.weightsPlanned)}, loaded ${mib(r.weightsLoaded)}; peak planned ${mib(r.planned)}, tracked ${mib(r.tracked)}${extra}`);

describe.skipIf(!F16)('SD1.5 UNet + AnimateDiff motion modules at full width (random weights, 64×64, 2 frames, 1 step, CFG)', () => {
  // v2: one step with f16, int8 and int4 weights (each a fresh load through the real loaders from the same files).
  // A step's cost is nearly all GEMMs over the 1.3 G weights, each filling whole 64-row tiles (shaders/matmul.wgsl)
  // however few rows the deep levels have, so a smaller image should barely shorten it; it takes over a minute on a
  // CPU adapter, so the step runs where it proves something new.
  it('motion module v2: f16, int8, int4 weights', async () => {
    const t = performance.now(), c = cpuSeconds();
    const files = await openFiles('v2');
    const f16: Precision = { activations: 'f16', weights: 'f16' };
    const ref = await runOnce('v2', files, f16, true);
    report('v2', f16, ref);
    const check = (r: Run) => {
      expect(allFinite(r.eps!) && allFinite(r.latents!)).toBe(true);
      expect(Math.abs(r.planned / r.tracked - 1)).toBeLessThanOrEqual(0.1);
      expect(Math.abs(r.weightsPlanned / r.weightsLoaded - 1)).toBeLessThanOrEqual(0.01);
    };
    check(ref);
    for (const weights of ['int8', 'int4'] as const) {
      const p: Precision = { activations: 'f16', weights };
      const r = await runOnce('v2', files, p, true);
      const e = { eps: relL2(r.eps!, ref.eps!), latents: relL2(r.latents!, ref.latents!) };
      report('v2', p, r, `; relative L2 error vs f16 weights: noise prediction ${e.eps.toExponential(2)}, latents ${e.latents.toExponential(2)}`);
      check(r);
      expect(e.eps, `${weights} noise prediction`).toBeLessThan(MAX_REL[weights]);
      expect(e.latents, `${weights} latents`).toBeLessThan(MAX_REL[weights]);
    }
    console.log(`v2 at full width: ${((performance.now() - t) / 1000).toFixed(0)} s, ${(cpuSeconds() - c).toFixed(0)} CPU-s`);
  }, 7_200_000); // minutes on an idle 2-core machine; far longer on a loaded one (docs/weights.md)

  // v3 (no mid-block motion module, a 32-row positional table): the same kernels as v2's step, so it is loaded, not
  // run: its files through the real loaders onto the GPU, the topology read off its weights, and the planner's weight
  // bytes against what the engine allocated.
  it('motion module v3: loads at full width (f16 weights); planned weight bytes = allocated', async () => {
    const t = performance.now(), c = cpuSeconds();
    const f16: Precision = { activations: 'f16', weights: 'f16' };
    const r = await runOnce('v3', await openFiles('v3'), f16, false);
    report('v3', f16, r);
    expect(r.topology.motionVersion).toBe('v3');
    expect(r.topology.mid.motion).toBe(false);
    expect(r.topology.down.map((d) => d.channels)).toEqual(UNET.config?.block_out_channels);
    expect(Math.abs(r.weightsPlanned / r.weightsLoaded - 1)).toBeLessThanOrEqual(0.01);
    console.log(`v3 at full width: ${((performance.now() - t) / 1000).toFixed(0)} s, ${(cpuSeconds() - c).toFixed(0)} CPU-s`);
  }, 3_600_000);
});
