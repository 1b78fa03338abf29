// Quality of weight-only int8 / int4 against f32 on the tiny oracle pipeline (pipeline_tiny/vA: its prompt
// embeddings, initial noise and DDIM run, the UNet + motion adapter of unet_motion_tiny and the VAE of
// vae_decoder_tiny): the same f32 engine runs the pipeline with float, int8 and int4 UNet weights (VAE float).
// Measured: PSNR of the decoded frames against the float-weight frames, and the relative L2 error of the UNet's
// first noise prediction. The float-weight run itself is held to the oracle's video (so the reference is real).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile, toF32 } from '../src/conformance/tensor-file';
import { hyperParamsFromDiffusers } from '../src/models/config';
import { UNetMotion } from '../src/models/unet';
import { VaeDecoder } from '../src/models/vae-decoder';
import type { WeightFormat } from '../src/ops/weights';
import { generate } from '../src/pipeline/generate';
import { makeSpec } from '../src/pipeline/spec';
import { openNodeFileSource } from '../src/platform/node-file-source';
import type { SchedulerClass } from '../src/schedulers';
import { loadWeights } from '../src/weights/load';
import { openSafetensors } from '../src/weights/safetensors';
import { testEngine } from './gpu';

const VECTORS = path.resolve(__dirname, '../../shared/oracle/vectors');
const DIR = path.join(VECTORS, 'pipeline_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');
const outputs = parseTensorFile(readFileSync(path.join(DIR, 'outputs.safetensors')), 'outputs');
const unetConfig = JSON.parse(readFileSync(path.join(VECTORS, 'unet_motion_tiny/vA/config.json'), 'utf8'));
const vaeConfig = JSON.parse(readFileSync(path.join(VECTORS, 'vae_decoder_tiny/vA/config.json'), 'utf8')).vae_config;

/** The first run of config.json that decodes video (its reference frames are in outputs.safetensors). */
const RUN = Object.keys(config.runs).find((r) => outputs.has(`${r}.video`))!;

/**
 * Bounds a little under what these tiny random-weight models reach (measured: int8 39.8 dB and 2.4e-2, int4 21.2 dB
 * and 2.8e-1; issue 7 aims at int8 ≥ 40 dB, int4 ≥ 30 dB; why int4 falls short: docs/weights.md). CFG 7.5 multiplies
 * the difference of the two UNet predictions, so the frames' error is several times the UNet's.
 */
const MIN_PSNR_DB: Record<'int8' | 'int4', number> = { int8: 39, int4: 20.5 };
const MAX_UNET_REL: Record<'int8' | 'int4', number> = { int8: 0.03, int4: 0.32 };

function psnr(a: Float32Array, ref: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - ref[i]) ** 2;
  return 10 * Math.log10(1 / (se / a.length)); // frames are in [0, 1]
}

function relL2(a: Float32Array, ref: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - ref[i]) ** 2; n += ref[i] ** 2; }
  return Math.sqrt(d / n);
}

describe(`int8 / int4 UNet weights vs f32 on the tiny pipeline (${RUN})`, () => {
  it('decoded-frame PSNR and UNet relative error per weight precision', async () => {
    const e = await testEngine('f32');
    const open = async (rel: string) => openSafetensors(await openNodeFileSource(path.join(VECTORS, rel)));
    const w = await loadWeights([
      await open('unet_motion_tiny/vA/unet_diffusers.safetensors'), await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors'),
      await open('vae_decoder_tiny/vA/vae_diffusers.safetensors'),
    ]);
    const hyper = hyperParamsFromDiffusers(unetConfig.unet_config, unetConfig.motion_adapter_config ?? {});
    const vae = await VaeDecoder.load(e, w.vae!, { groups: vaeConfig.norm_num_groups, scalingFactor: vaeConfig.scaling_factor });
    const r = config.runs[RUN];
    const refVideo = outputs.get(`${RUN}.video`)!;
    const pos = inputs.get('prompt_embeds')!, neg = inputs.get('negative_prompt_embeds')!;
    const [, tokens, dim] = pos.shape;
    const run = async (weights: WeightFormat) => {
      const unet = await UNetMotion.load(e, w.unet!, hyper, { weights });
      try {
        let eps0: Float32Array | null = null;
        const spec = makeSpec({
          prompt: '(replayed embeddings)', seed: 0, frames: config.num_frames, width: config.width, height: config.height,
          steps: r.num_inference_steps, guidance: r.guidance_scale,
        });
        const res = await generate({ engine: e, unet, vae }, spec, { onStepRecord: (rec) => { if (rec.step === 0) eps0 = rec.noisePredText ?? rec.noisePred; } }, {
          scheduler: { className: r.scheduler_class as SchedulerClass, config: r.scheduler_config },
          embeddings: { positive: toF32(pos), negative: toF32(neg), tokens, dim },
          initialNoise: toF32(inputs.get('latents_init')!),
          semantics: 'diffusers', decode: true, decodeFrames: refVideo.shape[1], keepFloatFrames: true,
        });
        const frames = new Float32Array(res.floatFrames!.reduce((s, f) => s + f.length, 0));
        let o = 0;
        for (const f of res.floatFrames!) { frames.set(f, o); o += f.length; }
        return { frames, eps0: eps0! };
      } finally {
        unet.release();
      }
    };
    const f32 = await run('float');
    // The reference is real: the float-weight frames are the oracle's video (f32 vs the f64 pipeline: ≤ 1e-4).
    expect(psnr(f32.frames, toF32(refVideo))).toBeGreaterThan(70);
    const got: { format: 'int8' | 'int4'; db: number; rel: number }[] = [];
    for (const format of ['int8', 'int4'] as const) {
      const q = await run(format);
      got.push({ format, db: psnr(q.frames, f32.frames), rel: relL2(q.eps0, f32.eps0) });
    }
    console.log(got.map((g) => `${g.format}: decoded frames PSNR ${g.db.toFixed(1)} dB vs f32 weights, UNet step-0 noise prediction relative L2 error ${g.rel.toExponential(2)}`).join('\n'));
    for (const g of got) {
      expect(g.db, `${g.format} PSNR`).toBeGreaterThanOrEqual(MIN_PSNR_DB[g.format]);
      expect(g.rel, `${g.format} UNet relative error`).toBeLessThan(MAX_UNET_REL[g.format]);
    }
    vae.release();
  }, 900_000);
});
