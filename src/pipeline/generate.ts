// The text-to-video loop (AnimateDiffPipeline, oracle pipeline_tiny `pipeline_math`):
//   latents = noise · init_noise_sigma                                  (1, 4, F, h, w), h = H/8
//   for t in timesteps:
//     x = scale_model_input(latents, t); UNet on [x; x] (uncond half first) with [negative; positive] text when CFG
//     ε = ε_u + g (ε_c − ε_u)  (CFG only when g > 1);  latents = scheduler.step(ε, t, latents)
//   frames = VAE(latents / 0.18215) one frame at a time;  video = (frames/2 + 0.5).clamp(0, 1)
// With FreeInit (freeinit.ts) the loop runs `iterations` times, each on a fresh scheduler; iteration k ≥ 1 starts
// from the previous one's final latents re-initialised (low frequencies of their diffusion to t = T−1, high ones of
// new noise).
// Scheduler math runs on the CPU in float32 (src/schedulers); the UNet and VAE on the GPU.
import type { Engine } from '../gpu/engine';
import type { ArenaPlan } from '../gpu/pool';
import type { Tensor } from '../gpu/tensor';
import type { Semantics } from '../models/config';
import type { UNetMotion } from '../models/unet';
import { imageToRgba, toUnitRange, type VaeDecoder } from '../models/vae-decoder';
import {
  classifierFreeGuidance, createScheduler, type DiffusersSchedulerConfig, type NoiseSource, type SchedulerClass, usesCfg,
} from '../schedulers';
import { GenerateRequestError, GenerationCancelledError } from './errors';
import { checkFreeInit, diffuse, type FreeInitParams, freeInitFilter, freeInitIterationSteps, mixFrequencies } from './freeinit';
import { framesNhwcToVideo, latentFrame, videoToFramesNhwc } from './layout';
import { latentPreview } from './preview';
import { freeInitNoise, initialNoise, schedulerNoise } from './rng';

/** Text conditioning: tokenizer + encoder (src/text), or anything that turns prompts into [77, D] embeddings. */
export interface TextConditioner {
  /** prompts → [prompts.length, tokens, dim] float32, row-major. */
  encode(prompts: string[], clipSkip: number): Promise<Float32Array>;
  readonly tokens: number;
  readonly dim: number;
}

export interface PipelineModels {
  engine: Engine;
  unet: UNetMotion;
  vae: VaeDecoder;
  text?: TextConditioner;
}

export interface SchedulerChoice {
  className: SchedulerClass;
  config: DiffusersSchedulerConfig;
}

export interface GenerateRequest {
  prompt?: string;
  negativePrompt?: string;
  /** Pre-computed text embeddings [tokens, dim] each (tests, prompt caching); replaces prompt/negativePrompt. */
  embeddings?: { positive: Float32Array; negative?: Float32Array; tokens: number; dim: number };
  seed: number;
  frames: number;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: SchedulerChoice;
  /** diffusers clip_skip (1 = A1111 "CLIP skip 2"); default 0. */
  clipSkip?: number;
  /** Motion-module GroupNorm semantics; default: the UNet's. */
  semantics?: Semantics;
  /** Largest tensor one UNet layer may make: the memory planner's chunk budget (src/plan); default the binding limit. */
  maxTensorBytes?: number;
  /** The memory planner's arena for the UNet's activations (RunPlan.arena); default: the buffer pool. */
  arena?: ArenaPlan | null;
  /** Unit-normal initial noise (1, 4, F, h, w) instead of the seeded generator (tests replay an oracle). */
  initialNoise?: Float32Array;
  /**
   * Noise the LCM scheduler injects at step i (default: the seed's stream, see rng.ts); with FreeInit, i counts the
   * steps of all iterations.
   */
  schedulerNoise?: NoiseSource;
  /** FreeInit (diffusers enable_free_init); absent or iterations = 1 is the plain run. */
  freeInit?: FreeInitParams;
  /** FreeInit's fresh noise z_rand for iteration k ≥ 1, `n` values (default: the seed's FreeInit stream, rng.ts). */
  freeInitNoise?: (n: number, iteration: number) => Float32Array;
  /** Skip the VAE (returns latents only). */
  decode?: boolean;
  /** Decode only the first N frames (quick look at a long clip; tests). Default: all. */
  decodeFrames?: number;
  /** Also return the decoded frames as float32 NHWC in [0, 1] (what diffusers' output_type='np' holds). */
  keepFloatFrames?: boolean;
}

/**
 * Progress after a step: `step` of `steps` (1-based) finished in FreeInit iteration `iteration` of `iterations`
 * (1-based; 1 of 1 without FreeInit). `iterationSteps` holds every iteration's step count (they differ with fast
 * sampling); the ETA covers the steps of all iterations.
 */
export interface StepInfo {
  step: number;
  steps: number;
  iteration: number;
  iterations: number;
  iterationSteps: number[];
  elapsedMs: number;
  etaMs: number;
}

/** Everything one step computed (CPU arrays, diffusers layout (1, 4, F, h, w)); for conformance and debugging. */
export interface StepRecord {
  /** FreeInit iteration (0-based; 0 without FreeInit). */
  iteration: number;
  step: number;
  t: number;
  /** The scheduler's sample before the step. */
  latentsIn: Float32Array;
  latentModelInput: Float32Array;
  noisePredUncond?: Float32Array;
  noisePredText?: Float32Array;
  /** After CFG (= the raw prediction without CFG). */
  noisePred: Float32Array;
  latentsOut: Float32Array;
  predOriginalSample: Float32Array;
}

/** FreeInit's re-initialisation before iteration k ≥ 1 (0-based), diffusers layout (1, C, F, h, w). */
export interface FreeInitRecord {
  iteration: number;
  /** The low-pass filter (F, h, w) in fftshift order (the same for every channel). */
  filter: Float32Array;
  /** The previous iteration's final latents diffused to t = T − 1 with the initial noise. */
  zT: Float32Array;
  zRand: Float32Array;
  /** The latents iteration k starts from. */
  latentsStart: Float32Array;
}

export interface GenerateHooks {
  signal?: AbortSignal;
  onStep?(info: StepInfo): void;
  onPreview?(preview: { frames: Uint8ClampedArray[]; width: number; height: number }): void;
  onFrame?(index: number, rgba: Uint8ClampedArray, width: number, height: number): void;
  onStepRecord?(record: StepRecord): void;
  onFreeInit?(record: FreeInitRecord): void;
}

export interface GenerateResult {
  /** Final latents (1, 4, F, h, w). */
  latents: Float32Array;
  /** RGBA8 frames (empty when decode is false). */
  frames: Uint8ClampedArray[];
  /** With keepFloatFrames: per frame NHWC RGB float32 in [0, 1]. */
  floatFrames?: Float32Array[];
  width: number;
  height: number;
  /** Timesteps of the last (or only) iteration. */
  timesteps: number[];
  /** Timesteps of each FreeInit iteration (one entry without FreeInit). */
  iterationTimesteps: number[][];
  timings: { denoiseMs: number; decodeMs: number };
}

function checkRequest(m: PipelineModels, r: GenerateRequest): { h: number; w: number } {
  // The image is the VAE's upscale (2^upsamplers, 8 for SD1.5) times the latent; the UNet takes any latent size
  // (its up path upsamples to each skip connection's size, as diffusers' upsample_size does).
  const mult = m.vae.upscale;
  for (const [k, v] of [['width', r.width], ['height', r.height]] as const) {
    if (!Number.isInteger(v) || v < mult || v % mult !== 0) throw new GenerateRequestError(`${k} ${v} must be a positive multiple of ${mult} (the VAE's scale factor)`);
  }
  if (!Number.isInteger(r.frames) || r.frames < 1) throw new GenerateRequestError(`frames ${r.frames} must be a positive integer`);
  if (!Number.isInteger(r.steps) || r.steps < 1) throw new GenerateRequestError(`steps ${r.steps} must be a positive integer`);
  if (!(r.guidance >= 0)) throw new GenerateRequestError(`guidance ${r.guidance} must be ≥ 0`);
  if (r.freeInit) checkFreeInit(r.freeInit);
  return { h: r.height / mult, w: r.width / mult };
}

/** [negative; positive] (CFG) or [positive], as a [b, tokens, dim] array. */
async function conditioning(m: PipelineModels, r: GenerateRequest, cfg: boolean): Promise<{ data: Float32Array; tokens: number; dim: number }> {
  if (r.embeddings) {
    const { positive, tokens, dim } = r.embeddings;
    const negative = r.embeddings.negative;
    if (positive.length !== tokens * dim) throw new GenerateRequestError(`embeddings.positive has ${positive.length} values, expected ${tokens}×${dim}`);
    if (!cfg) return { data: positive, tokens, dim };
    if (!negative || negative.length !== tokens * dim) throw new GenerateRequestError(`guidance ${r.guidance} > 1 needs embeddings.negative with ${tokens}×${dim} values`);
    const data = new Float32Array(2 * tokens * dim);
    data.set(negative, 0);
    data.set(positive, tokens * dim);
    return { data, tokens, dim };
  }
  if (!m.text) throw new GenerateRequestError('no text encoder is loaded and the request has no embeddings');
  const prompts = cfg ? [r.negativePrompt ?? '', r.prompt ?? ''] : [r.prompt ?? ''];
  return { data: await m.text.encode(prompts, r.clipSkip ?? 0), tokens: m.text.tokens, dim: m.text.dim };
}

const abortIfNeeded = (signal: AbortSignal | undefined, stage: 'denoising' | 'decoding', step?: number): void => {
  if (signal?.aborted) throw new GenerationCancelledError(stage, step);
};

export async function generate(m: PipelineModels, r: GenerateRequest, hooks: GenerateHooks = {}): Promise<GenerateResult> {
  const e = m.engine;
  const { h, w } = checkRequest(m, r);
  // Idle buffers of an earlier run are freed first: a run's memory is its own (what src/plan predicts).
  e.pool.trim();
  const F = r.frames;
  const C = m.unet.topology.inChannels;
  const n = C * F * h * w;
  const cfg = usesCfg(r.guidance);
  const noise = r.initialNoise ?? initialNoise(r.seed, C, F, h, w);
  if (noise.length !== n) throw new GenerateRequestError(`initialNoise has ${noise.length} values, expected (1, ${C}, ${F}, ${h}, ${w})`);
  // FreeInit: iteration k runs stepsOf(k) steps on a fresh scheduler (diffusers calls set_timesteps again); the LCM
  // noise index runs on over all iterations so no step reuses another's noise.
  const iterations = r.freeInit?.iterations ?? 1;
  const stepsOf = (k: number) => (r.freeInit ? freeInitIterationSteps(r.steps, iterations, k, r.freeInit.fastSampling) : r.steps);
  const iterationSteps = Array.from({ length: iterations }, (_, k) => stepsOf(k));
  const totalSteps = iterationSteps.reduce((a, b) => a + b, 0);
  const lcmNoise = r.schedulerNoise ?? schedulerNoise(r.seed);
  const schedulerFor = (k: number, firstStep: number) =>
    createScheduler(r.scheduler.className, r.scheduler.config, stepsOf(k), { noise: (count, i) => lcmNoise(count, firstStep + i) });
  let scheduler = schedulerFor(0, 0);
  if (iterations > 1 && scheduler.name === 'euler') {
    // diffusers' FreeInit re-noises with the variance-preserving add_noise and does not rescale by init_noise_sigma.
    throw new GenerateRequestError(`FreeInit needs a DDIM or LCM scheduler (the re-initialised latents have unit variance); ${r.scheduler.className} expects σ-scaled latents`);
  }
  const sigma = Math.fround(scheduler.initNoiseSigma);
  let latents: Float32Array = noise.map((v) => Math.fround(v * sigma));
  const initial = latents;

  abortIfNeeded(hooks.signal, 'denoising', 0);
  const text = await conditioning(m, r, cfg);
  const batch = cfg ? 2 : 1;
  const t0 = performance.now();
  let textTensor: Tensor | null = e.upload(text.data, [batch, text.tokens, text.dim]);
  try {
    const iterationTimesteps: number[][] = [];
    let done = 0;
    for (let k = 0; k < iterations; k++) {
      if (k > 0) {
        abortIfNeeded(hooks.signal, 'denoising', 0);
        latents = reinitialize(r, hooks, k, latents, initial, scheduler.alphasCumprod, C, F, h, w);
        scheduler = schedulerFor(k, done);
      }
      const steps = scheduler.timesteps;
      iterationTimesteps.push(steps);
      for (const [i, t] of steps.entries()) {
        abortIfNeeded(hooks.signal, 'denoising', i);
        const modelInput = scheduler.scaleModelInput(latents, t);
        const framesIn = videoToFramesNhwc(modelInput, 1, C, F, h, w);
        const x = e.upload(cfg ? concat(framesIn, framesIn) : framesIn, [batch * F, h, w, C]);
        let out: Float32Array;
        try {
          // The UNet's activations live in the planner's arena when the request has its plan (src/plan/arena.ts).
          e.pool.beginScope(r.arena);
          let eps: Tensor;
          try {
            eps = m.unet.forward(x, new Array(batch).fill(t), textTensor, F, { semantics: r.semantics, maxTensorBytes: r.maxTensorBytes });
          } finally {
            e.pool.endScope();
          }
          try {
            out = await e.read(eps);
          } finally {
            eps.release();
          }
        } finally {
          x.release();
        }
        const half = F * h * w * C;
        let uncond: Float32Array | undefined, textPred: Float32Array | undefined, noisePred: Float32Array;
        if (cfg) {
          uncond = framesNhwcToVideo(out.subarray(0, half), 1, C, F, h, w);
          textPred = framesNhwcToVideo(out.subarray(half), 1, C, F, h, w);
          noisePred = classifierFreeGuidance(uncond, textPred, r.guidance);
        } else {
          noisePred = framesNhwcToVideo(out, 1, C, F, h, w);
        }
        const latentsIn = latents;
        const res = scheduler.step(noisePred, t, latents);
        latents = res.prevSample;
        hooks.onStepRecord?.({
          iteration: k, step: i, t, latentsIn, latentModelInput: modelInput, noisePredUncond: uncond, noisePredText: textPred, noisePred,
          latentsOut: latents, predOriginalSample: res.predOriginalSample,
        });
        if (hooks.onPreview) hooks.onPreview({ frames: latentPreview(res.predOriginalSample, F, h, w), width: w, height: h });
        done++;
        const elapsedMs = performance.now() - t0;
        hooks.onStep?.({
          step: i + 1, steps: steps.length, iteration: k + 1, iterations, iterationSteps, elapsedMs, etaMs: (elapsedMs / done) * (totalSteps - done),
        });
      }
    }
    textTensor.release();
    textTensor = null;
    // The sampling loop's idle pool buffers are freed before the decode, so the VAE's peak does not stack on them
    // (everything recorded so far has completed: the last step's read waited for it).
    e.pool.trim();
    const denoiseMs = performance.now() - t0;

    const result: GenerateResult = {
      latents, frames: [], width: r.width, height: r.height, timesteps: scheduler.timesteps, iterationTimesteps, timings: { denoiseMs, decodeMs: 0 },
    };
    if (r.decode === false) return result;
    const t1 = performance.now();
    if (r.keepFloatFrames) result.floatFrames = [];
    const toDecode = Math.min(F, r.decodeFrames ?? F);
    for (let f = 0; f < toDecode; f++) {
      abortIfNeeded(hooks.signal, 'decoding');
      const img = m.vae.decodeFrame(latentFrame(latents, C, F, h, w, f), h, w);
      let raw: Float32Array;
      try {
        raw = await e.read(img);
      } finally {
        img.release();
      }
      const [, H, W] = img.shape;
      const rgba = imageToRgba(raw, H, W);
      result.frames.push(rgba);
      result.floatFrames?.push(toUnitRange(raw));
      hooks.onFrame?.(f, rgba, W, H);
    }
    result.timings.decodeMs = performance.now() - t1;
    return result;
  } finally {
    textTensor?.release();
  }
}

/**
 * FreeInit before iteration k ≥ 1 (freeinit.ts): z_t = add_noise(latents, initial, T − 1) with the ᾱ table of the
 * run's scheduler, fresh noise z_rand, and the low frequencies of z_t mixed with the high ones of z_rand.
 */
function reinitialize(
  r: GenerateRequest, hooks: GenerateHooks, k: number, latents: Float32Array, initial: Float32Array, alphasCumprod: Float32Array,
  C: number, F: number, h: number, w: number,
): Float32Array {
  const filter = freeInitFilter(F, h, w, r.freeInit!);
  const zT = diffuse(latents, initial, alphasCumprod[alphasCumprod.length - 1]);
  const zRand = (r.freeInitNoise ?? freeInitNoise(r.seed))(latents.length, k);
  if (zRand.length !== latents.length) throw new GenerateRequestError(`freeInitNoise gave ${zRand.length} values for iteration ${k}, expected ${latents.length}`);
  const latentsStart = mixFrequencies(zT, zRand, filter, C, F, h, w);
  hooks.onFreeInit?.({ iteration: k, filter, zT, zRand, latentsStart });
  return latentsStart;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
