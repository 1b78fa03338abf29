// The whole generation loop vs the oracle pipeline_tiny/vA (diffusers AnimateDiffPipeline with the tiny UNet +
// MotionAdapter of unet_motion_tiny/vA and the VAE of vae_decoder_tiny/vA), replaying its initial noise and
// prompt embeddings (and LCM's injected noise), diffusers semantics; plus cancellation.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compare, toleranceFor } from '../src/conformance/compare';
import { toF32 } from '../src/conformance/tensor-file';
import { GenerationCancelledError } from '../src/pipeline/errors';
import { generate, type GenerateOptions, type PipelineModels } from '../src/pipeline/generate';
import { type GenerationSpec, makeSpec } from '../src/pipeline/spec';
import { loadModels, schedulerDefaultsFor } from '../src/pipeline/load';
import { bytesSource } from '../src/weights/source';
import { tinyModelResponse } from '../e2e/tiny-model';
import { gaussian, initialNoise, lowbias32 } from '../src/pipeline/rng';
import { openNodeFileSource } from '../src/platform/node-file-source';
import type { SchedulerClass } from '../src/schedulers';
import { testEngine } from './gpu';
import { VECTORS } from './oracle';
import { oraclePipeline } from './oracle-pipeline';

const oracle = oraclePipeline('pipeline_tiny');
const { config, unetConfig, vaeConfig } = oracle;
const outputs = oracle.outputs();

let models: Promise<PipelineModels> | null = null;
const oracleModels = () => (models ??= testEngine('f32').then((e) => oracle.loadModels(e, { semantics: 'diffusers' })));

const [, , F, , w] = oracle.latentShape;

/** The oracle run as a spec + replay options (its scheduler config, initial noise, embeddings, LCM noise). */
function requestFor(run: string, extra: Partial<GenerationSpec> = {}, opts: GenerateOptions = {}): [GenerationSpec, GenerateOptions] {
  const r = config.runs[run];
  const lcmNoise = (_n: number, step: number) => toF32(outputs.get(`${run}.lcm_noise${step}`) ?? (() => { throw new Error(`${run}: no lcm_noise${step}`); })());
  const spec = makeSpec({
    prompt: '(replayed embeddings)', seed: 0, frames: config.num_frames, width: config.width, height: config.height,
    steps: r.num_inference_steps, guidance: r.guidance_scale, ...extra,
  });
  return [spec, {
    scheduler: { className: r.scheduler_class as SchedulerClass, config: r.scheduler_config },
    embeddings: oracle.embeddings(),
    initialNoise: oracle.initialNoise(),
    schedulerNoise: lcmNoise,
    semantics: 'diffusers',
    keepFloatFrames: true,
    ...opts,
  }];
}

describe('generate() vs pipeline_tiny/vA (f32, diffusers semantics)', () => {
  // One run here checks generate()'s hooks (previews, frames in order) with its numbers; every run of the set,
  // in both semantics and both weight layouts, is compared by the conformance harness (tests/conformance.test.ts).
  for (const run of ['euler_trailing_4']) {
    it(`${run}: timesteps, final latents and decoded video`, async () => {
      const m = await oracleModels();
      const decoded = outputs.has(`${run}.video`);
      const framesSeen: number[] = [];
      const previews: number[] = [];
      // ddim_4 decodes every frame; the other runs only the frames `video` holds (the VAE dominates the test time).
      const decodeFrames = run === 'ddim_4' ? F : outputs.get(`${run}.video`)?.shape[1];
      // Decoded 2 frames per call in row tiles of 16 image rows (the planner's split for small adapters): the same
      // video as the oracle's whole-frame decode.
      const [spec, opts] = requestFor(run, {}, { decode: decoded, decodeFrames, vae: { frames: 2, rows: 16 } });
      const res = await generate(m, spec, {
        onFrame: (i, rgba, W, H) => { framesSeen.push(i); expect(rgba.length).toBe(W * H * 4); },
        onPreview: (p) => { previews.push(p.frames.length); expect(p.width).toBe(w); },
      }, opts);
      expect(res.timesteps).toEqual(config.runs[run].timesteps);
      expect(previews).toEqual(new Array(res.timesteps.length).fill(F));
      // Tolerance: the oracle's runs.<run>.recommended_tolerance_f32.latents_final, vs the float64 run.
      const ref = outputs.get(`${run}.latents_final_f64`)!;
      const c = compare(res.latents, ref.data, toleranceFor(config, `${run}.latents_final`, 'F32'));
      expect(c.maxAbs, `latents_final max abs ${c.maxAbs} (bound ${c.bound})`).toBeLessThanOrEqual(c.bound);
      if (!decoded) return;
      expect(framesSeen).toEqual([...Array(decodeFrames).keys()]);
      // `video` holds the first frames (b, f, H, W, 3) in [0, 1]; ours are NHWC per frame.
      const video = outputs.get(`${run}.video`)!;
      const [, vf, H, W] = video.shape;
      const got = new Float32Array(vf * H * W * 3);
      for (let f = 0; f < vf; f++) got.set(res.floatFrames![f], f * H * W * 3);
      const cv = compare(got, video.data, toleranceFor(config, `${run}.video`, 'F32'));
      expect(cv.maxAbs, `video max abs ${cv.maxAbs} (bound ${cv.bound})`).toBeLessThanOrEqual(cv.bound);
    });
  }

  it('cancels after step 1 with GenerationCancelledError and releases every GPU tensor', async () => {
    const m = await oracleModels();
    // Warm-up (one step, no decode) so one-time placeholder buffers of the ops exist before counting.
    const [warm, warmOpts] = requestFor('ddim_4', { steps: 1 }, { decode: false });
    await generate(m, warm, {}, warmOpts);
    const before = m.engine.pool.stats().buffersInUse;
    const ac = new AbortController();
    const steps: number[] = [];
    const [spec, opts] = requestFor('ddim_4');
    const p = generate(m, spec, { signal: ac.signal, onStep: (s) => { steps.push(s.step); if (s.step === 1) ac.abort(); } }, opts);
    await expect(p).rejects.toBeInstanceOf(GenerationCancelledError);
    await expect(p).rejects.toMatchObject({ name: 'AbortError', stage: 'denoising', step: 1 });
    expect(steps).toEqual([1]);
    expect(m.engine.pool.stats().buffersInUse).toBe(before);
  });

  it('cancels between VAE frames', async () => {
    const m = await oracleModels();
    const ac = new AbortController();
    const before = m.engine.pool.stats().buffersInUse;
    const seen: number[] = [];
    const [spec, opts] = requestFor('euler_trailing_4', { steps: 1 });
    const p = generate(m, spec, { signal: ac.signal, onFrame: (i) => { seen.push(i); if (i === 1) ac.abort(); } }, opts);
    await expect(p).rejects.toMatchObject({ name: 'AbortError', stage: 'decoding' });
    expect(seen).toEqual([0, 1]);
    expect(m.engine.pool.stats().buffersInUse).toBe(before);
  });
});

describe('generate() at sizes not divisible by the UNet\'s downsampling', () => {
  it('64×96 pixels (latent 8×12: the up path upsamples to the skip sizes), CFG, 2 frames: right sizes, finite, not flat', async () => {
    const m = await oracleModels();
    expect(12 % m.unet.downsampleFactor, 'the latent width must take the upsample_size path').not.toBe(0);
    const frames: { rgba: Uint8ClampedArray; W: number; H: number }[] = [];
    const [spec, opts] = requestFor('ddim_4', { steps: 2, frames: 2, width: 96, height: 64, seed: 5 }, { initialNoise: undefined });
    const res = await generate(m, spec, {
      onFrame: (_i, rgba, W, H) => frames.push({ rgba, W, H }),
    }, opts);
    expect(res.latents.length).toBe(4 * 2 * 8 * 12);
    expect(res.latents.every(Number.isFinite)).toBe(true);
    expect(frames.map((f) => [f.W, f.H])).toEqual([[96, 64], [96, 64]]);
    const distinct = new Set(frames[0].rgba.filter((_, i) => i % 4 === 0));
    expect(distinct.size).toBeGreaterThan(16);
  }, 300_000);

  it('refuses a width that is not a multiple of the VAE\'s scale factor, naming it', async () => {
    const m = await oracleModels();
    const [spec, opts] = requestFor('ddim_4');
    await expect(generate(m, { ...spec, width: 100 }, {}, opts)).rejects.toThrow('Width must be a multiple of 8 from 8 to 2048 (got 100).');
  });
});

describe('loadModels (tiny oracle files through src/weights)', () => {
  const src = async (rel: string) => openNodeFileSource(path.join(VECTORS, rel));
  const tokDir = path.resolve(VECTORS, '../tokenizer');
  const tokenizer = { json: JSON.parse(readFileSync(path.join(tokDir, 'tokenizer.json'), 'utf8')), config: JSON.parse(readFileSync(path.join(tokDir, 'tokenizer_config.json'), 'utf8')) };
  const clip = JSON.parse(readFileSync(path.join(VECTORS, 'clip_text_tiny/vA/config.json'), 'utf8'));

  it('loads UNet + motion module (+ MotionLoRA), VAE, text encoder and tokenizer; picks the version defaults; releases everything', async () => {
    const e = await testEngine('f32');
    // The oracle's tiny CLIP (width 12) does not fit its tiny UNet (cross-attention 32); the app's tiny model
    // (e2e/tiny-model.ts) has a text encoder of the same key layout at width 32, with its config.
    const tiny = (name: string) => tinyModelResponse(name, undefined).body;
    const text = bytesSource(new Uint8Array(tiny('text_encoder_transformers.safetensors')), 'text_encoder_transformers.safetensors');
    const textConfig = JSON.parse(tiny('text_encoder_config.json').toString('utf8'));
    const before = e.pool.stats().buffersInUse;
    const stages: string[] = [];
    const m = await loadModels(e, {
      base: [await src('unet_motion_tiny/vA/unet_ldm.safetensors'), await src('vae_decoder_tiny/vA/vae_ldm.safetensors'), text],
      motionModule: await src('unet_motion_tiny/vA/motion_module_original.safetensors'),
      motionLoras: [{ source: await src('motion_lora/vA/motion_lora_original.safetensors'), strength: 0.5 }],
      tokenizer,
      configs: { unet: unetConfig.unet_config, motionAdapter: unetConfig.motion_adapter_config, vae: vaeConfig, text: textConfig },
    }, (p) => stages.push(p.stage));
    try {
      expect(stages.at(-1)).toBe('done');
      expect(m.motion?.version).toBe('v2');
      expect(m.defaults).toEqual(schedulerDefaultsFor('v2'));
      expect(m.defaults.className).toBe('DDIMScheduler');
      // Prompts → embeddings of the UNet's cross-attention width (the values: tests/text/clip-encoder.test.ts).
      const emb = await m.text.encode(clip.prompts, 0);
      expect(emb.length).toBe(clip.prompts.length * 77 * textConfig.hidden_size);
      expect(emb.every(Number.isFinite)).toBe(true);
    } finally {
      m.release();
    }
    expect(e.pool.stats().buffersInUse).toBeLessThanOrEqual(before + 2); // at most the GEMM placeholders created on first use
    expect(schedulerDefaultsFor('lightning').className).toBe('EulerDiscreteScheduler');
    expect(schedulerDefaultsFor('lcm').className).toBe('LCMScheduler');
  });

  it('refuses a text encoder whose width is not the UNet\'s cross-attention width before uploading anything', async () => {
    const e = await testEngine('f32');
    const before = e.pool.stats().buffersInUse;
    await expect(loadModels(e, {
      base: [await src('unet_motion_tiny/vA/unet_ldm.safetensors'), await src('vae_decoder_tiny/vA/vae_ldm.safetensors'), await src('clip_text_tiny/vA/text_encoder_transformers.safetensors')],
      motionModule: await src('unet_motion_tiny/vA/motion_module_original.safetensors'),
      tokenizer,
      configs: { unet: unetConfig.unet_config, motionAdapter: unetConfig.motion_adapter_config, vae: vaeConfig, text: clip.text_config },
    })).rejects.toMatchObject({ code: 'shape-mismatch', message: expect.stringMatching(/^text_encoder_transformers\.safetensors: the text encoder makes 12-wide embeddings, but the UNet's cross-attention .* takes 32-wide ones/) });
    expect(e.pool.stats().buffersInUse).toBe(before);
  });
});

describe('initial-noise RNG', () => {
  it('is a fixed, documented function of the seed (pinned values) and standard normal', () => {
    expect(lowbias32(0)).toBe(0);
    expect(lowbias32(1)).toBe(1753845952);
    // Values of the formula in docs/pipeline.md, computed independently (a separate script): any change to the
    // generator changes every user's seeds, so it must fail here.
    expect(Array.from(gaussian(42, 4))).toEqual([-1.1463974714279175, -0.13199163973331451, -1.0610277652740479, 0.4166186451911926]);
    const a = gaussian(42, 8);
    expect(Array.from(gaussian(42, 8))).toEqual(Array.from(a)); // deterministic
    expect(Array.from(gaussian(42, 5, 3))).toEqual(Array.from(a.subarray(3))); // counter-based: any offset
    expect(Array.from(gaussian(43, 8))).not.toEqual(Array.from(a));
    expect(initialNoise(7, 4, 2, 3, 3)).toEqual(gaussian(7, 72));
    const n = 200_000, z = gaussian(123, n);
    let mean = 0, sq = 0;
    for (const v of z) { mean += v; sq += v * v; }
    mean /= n; sq /= n;
    expect(Math.abs(mean)).toBeLessThan(0.01); // 4.5 sigma of the sample mean
    expect(Math.abs(sq - 1)).toBeLessThan(0.015);
  });
});
