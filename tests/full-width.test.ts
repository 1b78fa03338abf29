// The real SD1.5 UNet + AnimateDiff v2 and v3 motion modules (and the SD1.5 VAE decoder) at full channel width:
// every key and shape from the manifests of the real checkpoints, random F16 weights made in-process
// (tests/ref/synthetic-model.ts), read through the real safetensors reader and loaders, one DDIM step with CFG at
// 64×64 pixels (8×8 latents) and 2 frames on the software adapter, with f16 activations and f16, int8 and int4
// UNet weights with the v2 module, f16 with v3 (the VAE is loaded, so its weights count in the peak, but not run:
// the tiny-pipeline tests cover it).
// Checks: every output finite; int8/int4 relative errors against f16 weights reported and bounded;
// the memory planner's predicted peak equals the engine's tracked peak (within 10 %).
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
 * and 3.1e-1 (int4) (tests/quant-quality.test.ts); a wrong index or scale in a quantized loader gives errors of
 * order 1 or non-finite values. Measured full-width figures: docs/weights.md.
 */
const MAX_REL: Record<'int8' | 'int4', number> = { int8: 0.1, int4: 0.6 };

function relL2(a: Float32Array, ref: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - ref[i]) ** 2; n += ref[i] ** 2; }
  return Math.sqrt(d / n);
}

const allFinite = (a: Float32Array) => a.every(Number.isFinite);

async function runOnce(version: 'v2' | 'v3', precision: Precision) {
  // Fresh files and a fresh engine per run: the tracked peak then covers exactly this run's buffers.
  const files = [
    await openSafetensors(syntheticSafetensors('sd15_unet.safetensors', [UNET], 1)),
    await openSafetensors(syntheticSafetensors(`mm_sd_${version}.safetensors`, [ADAPTERS[version]], 2)),
    await openSafetensors(syntheticSafetensors('sd15_vae.safetensors', [VAE], 3)),
  ];
  const w = await loadWeights(files, { motionVersion: version });
  const hyper = { ...hyperParamsFromDiffusers(UNET.config ?? {}, ADAPTERS[version].config ?? {}), motionVersion: version };
  const vaeConfig = { groups: VAE.config?.norm_num_groups, scalingFactor: VAE.config?.scaling_factor };
  const e: Engine = await createNodeEngine({ precision: precision.activations });
  try {
    // The run as the worker makes it: the planner's chunk budget and activation arena, planned before any upload.
    const plan = await planRun({ unet: w.unet!, hyper, vae: w.vae!, vaeConfig }, {
      width: RUN.width, height: RUN.height, frames: RUN.frames, cfg: true, activations: precision.activations, weights: precision.weights,
    }, { maxStorageBufferBindingSize: e.maxBindingBytes, maxBufferSize: e.limits.maxBufferSize, minStorageBufferOffsetAlignment: e.limits.minStorageBufferOffsetAlignment });
    const t0 = performance.now();
    const unet = await UNetMotion.load(e, w.unet!, hyper, { weights: weightFormatOf(precision) });
    const vae = await VaeDecoder.load(e, w.vae!, vaeConfig);
    const loadMs = performance.now() - t0;
    console.log(`${version} ${describePrecision(precision)}: loaded in ${(loadMs / 1000).toFixed(1)} s`);
    const dim = unet.topology.crossAttentionDim;
    const sched = defaultSchedulerFor(version);
    let eps: Float32Array | null = null;
    const t1 = performance.now();
    const spec = makeSpec({ prompt: '(random embeddings)', seed: 7, ...RUN });
    const res = await generate({ engine: e, unet, vae }, spec, { onStepRecord: (r) => { eps = r.noisePred; } }, {
      scheduler: { className: sched.className, config: sched.config },
      embeddings: { positive: randn(77 * dim, 11), negative: randn(77 * dim, 12), tokens: 77, dim },
      decode: false, // the VAE is loaded (its weights count in the peak) but a 64×64 decode adds minutes on a CPU adapter
      maxTensorBytes: plan.maxTensorBytes, arena: plan.arena,
    });
    const runMs = performance.now() - t1;
    console.log(`${version} ${describePrecision(precision)}: one step with CFG in ${(runMs / 1000).toFixed(1)} s`);
    const tracked = e.pool.stats().peakBytes;
    unet.release();
    vae.release();
    return { eps: eps!, latents: res.latents, tracked, planned: plan.enginePeakBytes, loadMs, runMs };
  } finally {
    e.destroy();
  }
}

/** Weight precisions per motion-module version: all three with v2; v3 (same UNet, no mid-block module, 32-row PE)
 *  once in f16, which keeps the whole test near CI's time budget (one step is ~100 GFLOP on a CPU adapter). */
const PLAN: Record<'v2' | 'v3', ('int8' | 'int4')[]> = { v2: ['int8', 'int4'], v3: [] };

describe.skipIf(!F16)('SD1.5 UNet + AnimateDiff motion modules at full width (random weights, 64×64, 2 frames, 1 step, CFG)', () => {
  for (const version of ['v2', 'v3'] as const) {
    it(`motion module ${version}: f16${PLAN[version].map((w) => `, ${w}`).join('')} weights`, async () => {
      const lines: string[] = [];
      const ref = await runOnce(version, { activations: 'f16', weights: 'f16' });
      const report = (p: Precision, r: Awaited<ReturnType<typeof runOnce>>, errs = '') => lines.push(
        `${version} ${describePrecision(p)}: load ${(r.loadMs / 1000).toFixed(1)} s, run ${(r.runMs / 1000).toFixed(1)} s; ` +
        `peak planned ${(r.planned / 2 ** 20).toFixed(1)} MiB, tracked ${(r.tracked / 2 ** 20).toFixed(1)} MiB${errs}`);
      report({ activations: 'f16', weights: 'f16' }, ref);
      const check = (r: Awaited<ReturnType<typeof runOnce>>) => {
        expect(allFinite(r.eps) && allFinite(r.latents)).toBe(true);
        expect(Math.abs(r.planned / r.tracked - 1)).toBeLessThanOrEqual(0.1);
      };
      check(ref);
      for (const weights of PLAN[version]) {
        const p: Precision = { activations: 'f16', weights };
        const r = await runOnce(version, p);
        const e = { eps: relL2(r.eps, ref.eps), latents: relL2(r.latents, ref.latents) };
        report(p, r, `; relative L2 error vs f16 weights: noise prediction ${e.eps.toExponential(2)}, latents ${e.latents.toExponential(2)}`);
        check(r);
        expect(e.eps, `${weights} noise prediction`).toBeLessThan(MAX_REL[weights]);
        expect(e.latents, `${weights} latents`).toBeLessThan(MAX_REL[weights]);
      }
      console.log(lines.join('\n'));
    }, 7_200_000); // ~10 min on an idle 2-core machine; over an hour on a loaded one (docs/weights.md)
  }
});
