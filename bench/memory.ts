// The memory planner's figures for the real models (`npm run bench` prints them after the timing table): peak GPU
// memory of 16 frames at 512², CFG on, per precision, for SD1.5 + AnimateDiff v2 and v3 motion modules + VAE +
// text encoder, from the full-size key → shape manifests of ../shared/oracle/manifests (no weights needed: the
// planner runs the real pipeline on a null device, src/plan).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../src/gpu/engine';
import { hyperParamsFromDiffusers, SD15_HYPER_PARAMS } from '../src/models/config';
import { UNetMotion } from '../src/models/unet';
import { VaeDecoder } from '../src/models/vae-decoder';
import { generate } from '../src/pipeline/generate';
import { makeSpec } from '../src/pipeline/spec';
import { planRun, type PlanModels, type RunPlan, type RunShape, type ShapeMap } from '../src/plan/plan';
import { defaultSchedulerFor } from '../src/schedulers';
import { loadWeights } from '../src/weights/load';
import { openSafetensors } from '../src/weights/safetensors';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function manifest(dir: string, ...files: string[]): ShapeMap {
  const shapes = new Map<string, number[]>();
  for (const f of files) {
    for (const [k, v] of Object.entries(JSON.parse(readFileSync(join(dir, f), 'utf8')).tensors as Record<string, { shape: number[] }>)) shapes.set(k, v.shape);
  }
  return { has: (n) => shapes.has(n), shape: (n) => shapes.get(n)!, names: () => [...shapes.keys()] };
}

const PRECISIONS: { name: string; activations: RunShape['activations']; weights: RunShape['weights']; aim?: number }[] = [
  { name: 'f32', activations: 'f32', weights: 'f32' },
  { name: 'f16', activations: 'f16', weights: 'f16' },
  { name: 'int8 (f16 activations)', activations: 'f16', weights: 'int8', aim: 2.5 * GiB },
  { name: 'int4 (f16 activations)', activations: 'f16', weights: 'int4', aim: 2 * GiB },
];

const g = (b: number) => (b / GiB).toFixed(2);

/** Markdown tables of the planner's peaks, or a line saying why there are none. */
export async function memoryReport(manifests: string, onProgress: (s: string) => void = () => {}): Promise<string> {
  if (!existsSync(join(manifests, 'sd15_unet_diffusers.json'))) return `(memory: no manifests in ${manifests})`;
  const vae = manifest(manifests, 'sd15_vae_diffusers.json');
  const text = manifest(manifests, 'clip_vit_l14_text_transformers.json');
  const lines = [
    '| motion module | precision | 128 MiB bindings: peak GiB | 2 GiB bindings, fewest dispatches: peak GiB | 2 GiB bindings, planner\'s smallest: peak GiB (chunk budget) | breakdown of the smallest: UNet w / VAE w / UNet act / VAE act / text enc |',
    '|---|---|---:|---:|---:|---|',
  ];
  const run = { width: 512, height: 512, frames: 16, cfg: true };
  for (const [label, adapter] of [['v2 (v1-5-2)', 'motion_adapter_v1-5-2_diffusers.json'], ['v3 (v1-5-3)', 'motion_adapter_v1-5-3_diffusers.json']] as const) {
    const models: PlanModels = { unet: manifest(manifests, 'sd15_unet_diffusers.json', adapter), hyper: SD15_HYPER_PARAMS, vae, text };
    for (const p of PRECISIONS) {
      const shape: RunShape = { ...run, activations: p.activations, weights: p.weights };
      const cell = async (limits: Parameters<typeof planRun>[2]): Promise<RunPlan | string> => {
        try {
          return await planRun(models, shape, limits);
        } catch (e) {
          return `refused: ${(e as Error).message.split(': ').slice(-1)[0]}`;
        }
      };
      onProgress(`memory: ${label} ${p.name}`);
      const capped = await cell({ maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 4 * GiB });
      const wide = await cell({ maxStorageBufferBindingSize: 2 * GiB, maxBufferSize: 4 * GiB });
      const small = await cell({ maxStorageBufferBindingSize: 2 * GiB, maxBufferSize: 4 * GiB, memoryBytes: p.aim ?? 0 });
      const peak = (c: RunPlan | string) => (typeof c === 'string' ? c : g(c.peakBytes));
      const b = typeof small === 'string' ? '' : [small.breakdown.unetWeights, small.breakdown.vaeWeights, small.breakdown.unetActivations, small.breakdown.vaeActivations, small.breakdown.textEncoder].map(g).join(' / ');
      const smallCell = typeof small === 'string' ? small : `${g(small.peakBytes)} (${small.maxTensorBytes / MiB} MiB)${p.aim ? ` ${small.fits ? '≤' : '>'} aim ${g(p.aim)}` : ''}`;
      lines.push(`| ${label} | ${p.name} | ${peak(capped)} | ${peak(wide)} | ${smallCell} | ${b} |`);
    }
  }
  // The VAE decode's split where the whole image would not bind: 512² in f32 on 128 MiB bindings (its 256-channel
  // tensors after the last upsampler are 256 MiB), with 8 frames so the UNet fits.
  const models: PlanModels = { unet: manifest(manifests, 'sd15_unet_diffusers.json', 'motion_adapter_v1-5-3_diffusers.json'), hyper: SD15_HYPER_PARAMS, vae, text };
  const split = await planRun(models, { width: 512, height: 512, frames: 8, cfg: true, activations: 'f32', weights: 'f32' }, { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 4 * GiB })
    .then((pl) => `VAE ${pl.vae.frames} frame(s) per call × ${pl.vae.rows} rows per tile; peak ${g(pl.peakBytes)} GiB (UNet act ${g(pl.breakdown.unetActivations)}, VAE act ${g(pl.breakdown.vaeActivations)})`, (err) => `refused: ${(err as Error).message}`);
  lines.push('', `v3, f32, 512² × 8 frames, CFG, 128 MiB bindings: ${split}`);
  return lines.join('\n');
}

/**
 * The engine's tracked peak of a real run next to the planner's prediction: the tiny oracle models (random weights,
 * ../shared/oracle/vectors) at 64×64, 8 frames, CFG on, 2 steps, on the bench's engine, with the plan's chunk budget
 * and arena (as the worker runs it).
 */
export async function trackedPeakReport(e: Engine, vectors: string): Promise<string> {
  const dir = (s: string) => join(vectors, s);
  if (!existsSync(dir('unet_motion_tiny/vA/config.json'))) return `(tracked peak: no oracle vectors in ${vectors})`;
  const { openNodeFileSource } = await import('../src/platform/node-file-source');
  const open = async (rel: string) => openSafetensors(await openNodeFileSource(dir(rel)));
  const w = await loadWeights([await open('unet_motion_tiny/vA/unet_diffusers.safetensors'), await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors'), await open('vae_decoder_tiny/vA/vae_diffusers.safetensors')]);
  const uc = JSON.parse(readFileSync(dir('unet_motion_tiny/vA/config.json'), 'utf8'));
  const vc = JSON.parse(readFileSync(dir('vae_decoder_tiny/vA/config.json'), 'utf8')).vae_config;
  const hyper = hyperParamsFromDiffusers(uc.unet_config, uc.motion_adapter_config);
  const vaeConfig = { groups: vc.norm_num_groups, scalingFactor: vc.scaling_factor };
  const run = { width: 64, height: 64, frames: 8, cfg: true, activations: e.dtype, weights: e.dtype } as const;
  const plan = await planRun({ unet: w.unet!, hyper, vae: w.vae!, vaeConfig }, run, {
    maxStorageBufferBindingSize: e.maxBindingBytes, maxBufferSize: e.limits.maxBufferSize, minStorageBufferOffsetAlignment: e.limits.minStorageBufferOffsetAlignment,
  });
  e.pool.trim();
  e.pool.resetPeak();
  const base = e.pool.stats().liveBytes;
  const unet = await UNetMotion.load(e, w.unet!, hyper);
  const vae = await VaeDecoder.load(e, w.vae!, vaeConfig);
  const sched = defaultSchedulerFor('v2');
  const dim = unet.topology.crossAttentionDim;
  try {
    const spec = makeSpec({ prompt: '(embeddings)', seed: 1, frames: run.frames, width: run.width, height: run.height, steps: 2, guidance: 7.5 });
    await generate({ engine: e, unet, vae }, spec, {}, {
      scheduler: { className: sched.className, config: sched.config },
      embeddings: { positive: new Float32Array(77 * dim).fill(0.1), negative: new Float32Array(77 * dim), tokens: 77, dim },
      maxTensorBytes: plan.maxTensorBytes, arena: plan.arena, vae: plan.vae,
    });
  } finally {
    unet.release();
    vae.release();
  }
  const tracked = e.pool.stats().peakBytes - base;
  const mib = (b: number) => (b / MiB).toFixed(3);
  return [
    '| run | planned peak MiB | tracked peak MiB | tracked / planned |',
    '|---|---:|---:|---:|',
    `| tiny oracle models, 64×64, 8 frames, CFG, 2 steps, ${e.dtype} | ${mib(plan.enginePeakBytes)} | ${mib(tracked)} | ${(tracked / plan.enginePeakBytes).toFixed(4)} |`,
  ].join('\n');
}
