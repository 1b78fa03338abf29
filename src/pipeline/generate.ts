// The text-to-video loop (AnimateDiffPipeline, oracle pipeline_tiny `pipeline_math`):
//   latents = noise · init_noise_sigma                                  (1, 4, F, h, w), h = H/8
//   for t in timesteps:
//     x = scale_model_input(latents, t);  ε = predictNoise(x, t, text)   (predict-noise.ts: UNet, CFG, context windows)
//     latents = scheduler.step(ε, t, latents)
//   frames = VAE(latents / 0.18215), the planner's frames per call and row tiles (RunPlan.vae);  video = (frames/2 + 0.5).clamp(0, 1)
// With FreeInit (freeinit.ts) the loop runs `iterations` times, each on a fresh scheduler; iteration k ≥ 1 starts
// from the previous one's final latents re-initialised (low frequencies of their diffusion to t = T−1, high ones of
// new noise).
// Scheduler math runs on the CPU in float32 (src/schedulers); the UNet and VAE on the GPU.
import type { Engine } from '../gpu/engine';
import type { ArenaPlan } from '../gpu/pool';
import type { Semantics } from '../models/config';
import type { UNetMotion } from '../models/unet';
import { imageToRgba, toUnitRange, type VaeDecoder } from '../models/vae-decoder';
import { createScheduler, type NoiseSource, type SchedulerDefaults, usesCfg } from '../schedulers';
import { GenerateRequestError, GenerationCancelledError } from './errors';
import { diffuse, freeInitFilter, freeInitIterationSteps, mixFrequencies } from './freeinit';
import { checkFreeNoiseOptions, freeNoiseInitialNoise, FreeNoiseOptionsError, freeNoiseSchedule } from './freenoise';
import { latentFrame } from './layout';
import { type Conditioning, predictNoise, TextConditioning } from './predict-noise';
import { latentPreview } from './preview';
import { travelEmbeddings } from './prompt-travel';
import { freeInitNoise, initialNoise, schedulerNoise } from './rng';
import { checkSchedulerSteps, resolveScheduler, type SchedulerChoice } from './scheduler-choice';
import { type FreeInitOptions, type GenerationSpec, parseSpec } from './spec';
import type { MotionProbeFn } from '../models/forward-context';

export type { SchedulerChoice } from './scheduler-choice';

/** Text conditioning: tokenizer + encoder (src/text), or anything that turns prompts into [77, D] embeddings. */
export interface TextConditioner {
  /** prompts → [prompts.length, tokens, dim] float32, row-major. `clipSkip`: diffusers' clip_skip (0 = last layer). */
  encode(prompts: string[], clipSkip: number): Promise<Float32Array>;
  readonly tokens: number;
  readonly dim: number;
}

export interface PipelineModels {
  engine: Engine;
  unet: UNetMotion;
  vae: VaeDecoder;
  text?: TextConditioner;
  /** What the motion module was made for: resolves the spec's scheduler 'auto'. */
  defaults?: SchedulerDefaults;
}

/**
 * How to run a spec, beyond the spec itself: replays of an oracle (tests, conformance, the planner) and output
 * choices. The app passes none of these.
 */
export interface GenerateOptions {
  /** An explicit scheduler class + config instead of the spec's named one (an oracle's scheduler_config). */
  scheduler?: SchedulerChoice;
  /** Pre-computed text embeddings [tokens, dim] each (tests, prompt caching); replace the spec's prompts. */
  embeddings?: { positive: Float32Array; negative?: Float32Array; tokens: number; dim: number };
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
  /** FreeInit's fresh noise z_rand for iteration k ≥ 1, `n` values (default: the seed's FreeInit stream, rng.ts). */
  freeInitNoise?: (n: number, iteration: number) => Float32Array;
  /** Skip the VAE (returns latents only). */
  decode?: boolean;
  /** Decode only the first N frames (quick look at a long clip; tests). Default: all. */
  decodeFrames?: number;
  /**
   * The memory planner's VAE decode split (RunPlan.vae): frames per decode call and image rows per row tile (a
   * multiple of the VAE's scale factor). Default: one frame per call, whole images. Any split decodes the same.
   */
  vae?: { frames: number; rows: number };
  /** Also return the decoded frames as float32 NHWC in [0, 1] (what diffusers' output_type='np' holds). */
  keepFloatFrames?: boolean;
  /** Debug: one motion-module block's intermediates at the first UNet call (models/forward-context.ts). */
  motionProbe?: { module: string; block: number; fn: MotionProbeFn };
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

/** Progress inside a step with context windows (GenerateHooks.onWindow). */
export interface WindowInfo {
  iteration: number;
  step: number;
  steps: number;
  window: number;
  windows: number;
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
  /** The prompts are encoded: the first denoising step starts now. */
  onTextEncoded?(): void;
  onStep?(info: StepInfo): void;
  /**
   * With context windows: after window `window` (1-based) of `windows` inside step `step` (1-based) of `steps` of
   * FreeInit iteration `iteration` (1-based; 1 without FreeInit).
   */
  onWindow?(info: WindowInfo): void;
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

/** What this version of the pipeline cannot run yet, refused by name before any work; the motion module's frame limit. */
function checkSupported(m: PipelineModels, r: GenerationSpec): void {
  if (r.context?.method === 'freenoise') {
    try {
      checkFreeNoiseOptions(r.frames, r.context);
    } catch (err) {
      throw err instanceof FreeNoiseOptionsError ? new GenerateRequestError(err.message) : err;
    }
  }
  // The motion module was trained on up to its positional table's length of frames per call.
  const pe = m.unet.topology.motionPeLength;
  // (FreeNoise: the temporal attention sees one window; uniform windows: the whole UNet does.)
  const perCall = r.context ? Math.min(r.frames, r.context.length) : r.frames;
  if (pe !== undefined && perCall > pe) {
    throw new GenerateRequestError(r.context
      ? `context windows of ${r.context.length} frames exceed the motion module's ${pe}-frame positional table: use windows of at most ${pe} frames`
      : `${r.frames} frames exceed the motion module's ${pe}-frame positional table: use at most ${pe} frames, or context windows for longer clips`);
  }
}

function checkSize(m: PipelineModels, r: GenerationSpec): { h: number; w: number } {
  // The image is the VAE's upscale (2^upsamplers, 8 for SD1.5) times the latent; the UNet takes any latent size
  // (its up path upsamples to each skip connection's size, as diffusers' upsample_size does).
  const mult = m.vae.upscale;
  for (const [k, v] of [['width', r.width], ['height', r.height]] as const) {
    if (v % mult !== 0) throw new GenerateRequestError(`${k} ${v} must be a positive multiple of ${mult} (the VAE's scale factor)`);
  }
  return { h: r.height / mult, w: r.width / mult };
}

/** The spec's prompts (or the replayed embeddings) as the UNet's text: [negative; positive] with CFG, else [positive]. */
async function textConditioning(m: PipelineModels, r: GenerationSpec, o: GenerateOptions, cfg: boolean): Promise<TextConditioning> {
  if (o.embeddings) {
    const { positive, tokens, dim } = o.embeddings;
    const negative = o.embeddings.negative;
    if (positive.length !== tokens * dim) throw new GenerateRequestError(`embeddings.positive has ${positive.length} values, expected ${tokens}×${dim}`);
    if (!cfg) return new TextConditioning(m.engine, positive, 1, 1, tokens, dim);
    if (!negative || negative.length !== tokens * dim) throw new GenerateRequestError(`guidance ${r.guidance} > 1 needs embeddings.negative with ${tokens}×${dim} values`);
    const data = new Float32Array(2 * tokens * dim);
    data.set(negative, 0);
    data.set(positive, tokens * dim);
    return new TextConditioning(m.engine, data, 2, 1, tokens, dim);
  }
  const text = m.text;
  if (!text) throw new GenerateRequestError('no text encoder is loaded and the request has no embeddings');
  if (r.prompts.length === 1) {
    // One prompt for the whole clip: one text row per CFG half (the F frames of a sample share it).
    const prompt = r.prompts[0].prompt;
    const data = await text.encode(cfg ? [r.negativePrompt, prompt] : [prompt], r.clipSkip);
    return new TextConditioning(m.engine, data, cfg ? 2 : 1, 1, text.tokens, text.dim);
  }
  // Prompt travel: one text row per frame and half, interpolated between keyframes as diffusers' FreeNoise does
  // (prompt-travel.ts); the negative prompt goes through the same interpolation (a single keyframe at frame 0).
  const F = r.frames;
  const encode = (prompts: string[]) => text.encode(prompts, r.clipSkip);
  const positive = await travelEmbeddings(encode, r.prompts, F);
  if (!cfg) return new TextConditioning(m.engine, positive, 1, F, text.tokens, text.dim);
  const negative = await travelEmbeddings(encode, [{ frame: 0, prompt: r.negativePrompt }], F);
  const data = new Float32Array(negative.length + positive.length);
  data.set(negative, 0);
  data.set(positive, negative.length);
  return new TextConditioning(m.engine, data, 2, F, text.tokens, text.dim);
}

const abortIfNeeded = (signal: AbortSignal | undefined, stage: 'denoising' | 'decoding', step?: number): void => {
  if (signal?.aborted) throw new GenerationCancelledError(stage, step);
};

export async function generate(m: PipelineModels, spec: GenerationSpec, hooks: GenerateHooks = {}, o: GenerateOptions = {}): Promise<GenerateResult> {
  const e = m.engine;
  const r = parseSpec(spec);
  checkSupported(m, r);
  const { h, w } = checkSize(m, r);
  // Idle buffers of an earlier run are freed first: a run's memory is its own (what src/plan predicts). The engine's
  // backlog may still hold writes into buffers released since (a load's temporary uploads): drain it before the
  // trim destroys them, or the next submit fails validation ("used in submit while destroyed").
  await e.sync();
  e.pool.trim();
  const F = r.frames;
  const C = m.unet.topology.inChannels;
  const n = C * F * h * w;
  const cfg = usesCfg(r.guidance);
  const freeNoise = r.context?.method === 'freenoise' ? r.context : null;
  // FreeNoise's shuffle_context: frames ≥ L repeat shuffled earlier frames (seeded permutations, freenoise.ts).
  const noise = o.initialNoise ?? (freeNoise ? freeNoiseInitialNoise(r.seed, C, F, h, w, freeNoise) : initialNoise(r.seed, C, F, h, w));
  if (noise.length !== n) throw new GenerateRequestError(`initialNoise has ${noise.length} values, expected (1, ${C}, ${F}, ${h}, ${w})`);
  // FreeInit: iteration k runs stepsOf(k) steps on a fresh scheduler (diffusers calls set_timesteps again); the LCM
  // noise index runs on over all iterations so no step reuses another's noise.
  const iterations = r.freeInit?.iterations ?? 1;
  const stepsOf = (k: number) => (r.freeInit ? freeInitIterationSteps(r.steps, iterations, k, r.freeInit.fastSampling) : r.steps);
  const iterationSteps = Array.from({ length: iterations }, (_, k) => stepsOf(k));
  const totalSteps = iterationSteps.reduce((a, b) => a + b, 0);
  const lcmNoise = o.schedulerNoise ?? schedulerNoise(r.seed);
  const choice = o.scheduler ?? resolveScheduler(r.scheduler, m.defaults);
  checkSchedulerSteps(choice, r.steps);
  const schedulerFor = (k: number, firstStep: number) =>
    createScheduler(choice.className, choice.config, stepsOf(k), { noise: (count, i) => lcmNoise(count, firstStep + i) });
  let scheduler = schedulerFor(0, 0);
  if (iterations > 1 && scheduler.name === 'euler') {
    // diffusers' FreeInit re-noises with the variance-preserving add_noise and does not rescale by init_noise_sigma.
    throw new GenerateRequestError(`FreeInit needs a DDIM or LCM scheduler (the re-initialised latents have unit variance); ${choice.className} expects σ-scaled latents`);
  }
  const sigma = Math.fround(scheduler.initNoiseSigma);
  let latents: Float32Array = noise.map((v) => Math.fround(v * sigma));
  const initial = latents;

  abortIfNeeded(hooks.signal, 'denoising', 0);
  const text = await textConditioning(m, r, o, cfg);
  hooks.onTextEncoded?.();
  const conditioning: Conditioning = {
    text, guidance: r.guidance, semantics: o.semantics, maxTensorBytes: o.maxTensorBytes, arena: o.arena ?? null,
    motion: { windows: freeNoise ? freeNoiseSchedule(F, freeNoise) : undefined, strength: r.motionStrength },
    windows: r.context?.method === 'uniform' ? r.context : null,
  };
  const probed: Conditioning | null = o.motionProbe ? { ...conditioning, motion: { ...conditioning.motion, probe: o.motionProbe } } : null;
  const t0 = performance.now();
  try {
    const iterationTimesteps: number[][] = [];
    let done = 0;
    for (let k = 0; k < iterations; k++) {
      if (k > 0) {
        abortIfNeeded(hooks.signal, 'denoising', 0);
        latents = reinitialize(r.freeInit!, o.freeInitNoise ?? freeInitNoise(r.seed), hooks, k, latents, initial, scheduler.alphasCumprod, C, F, h, w);
        scheduler = schedulerFor(k, done);
      }
      const steps = scheduler.timesteps;
      iterationTimesteps.push(steps);
      for (const [i, t] of steps.entries()) {
        abortIfNeeded(hooks.signal, 'denoising', i);
        const modelInput = scheduler.scaleModelInput(latents, t);
        const eps = await predictNoise(m, { data: modelInput, channels: C, frames: F, height: h, width: w }, t, probed && k === 0 && i === 0 ? probed : conditioning, {
          step: i,
          onWindow: hooks.onWindow && ((window, windows) => hooks.onWindow!({ iteration: k + 1, step: i + 1, steps: steps.length, window, windows })),
        });
        const latentsIn = latents;
        const res = scheduler.step(eps.noisePred, t, latents);
        latents = res.prevSample;
        hooks.onStepRecord?.({
          iteration: k, step: i, t, latentsIn, latentModelInput: modelInput, noisePredUncond: eps.uncond, noisePredText: eps.cond, noisePred: eps.noisePred,
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
    text.release();
    // The sampling loop's idle pool buffers are freed before the decode, so the VAE's peak does not stack on them
    // (everything recorded so far has completed: the last step's read waited for it).
    e.pool.trim();
    const denoiseMs = performance.now() - t0;

    const result: GenerateResult = {
      latents, frames: [], width: r.width, height: r.height, timesteps: scheduler.timesteps, iterationTimesteps, timings: { denoiseMs, decodeMs: 0 },
    };
    if (o.decode === false) return result;
    const t1 = performance.now();
    if (o.keepFloatFrames) result.floatFrames = [];
    const toDecode = Math.min(F, o.decodeFrames ?? F);
    const perCall = o.vae?.frames ?? 1;
    if (!(Number.isInteger(perCall) && perCall >= 1)) throw new GenerateRequestError(`vae.frames must be a positive integer, got ${perCall}`);
    for (let f0 = 0; f0 < toDecode; f0 += perCall) {
      abortIfNeeded(hooks.signal, 'decoding');
      const frames = Array.from({ length: Math.min(perCall, toDecode - f0) }, (_, i) => latentFrame(latents, C, F, h, w, f0 + i));
      const img = m.vae.decodeFrames(frames, h, w, { rows: o.vae?.rows });
      let raw: Float32Array;
      try {
        raw = await e.read(img);
      } finally {
        img.release();
      }
      const [, H, W, ch] = img.shape;
      for (let i = 0; i < frames.length; i++) {
        const one = raw.subarray(i * H * W * ch, (i + 1) * H * W * ch);
        const rgba = imageToRgba(one, H, W, ch);
        result.frames.push(rgba);
        result.floatFrames?.push(toUnitRange(one));
        hooks.onFrame?.(f0 + i, rgba, W, H);
      }
    }
    result.timings.decodeMs = performance.now() - t1;
    return result;
  } finally {
    text.release();
  }
}

/**
 * FreeInit before iteration k ≥ 1 (freeinit.ts): z_t = add_noise(latents, initial, T − 1) with the ᾱ table of the
 * run's scheduler, fresh noise z_rand, and the low frequencies of z_t mixed with the high ones of z_rand.
 */
function reinitialize(
  p: FreeInitOptions, noiseOf: (n: number, iteration: number) => Float32Array, hooks: GenerateHooks, k: number,
  latents: Float32Array, initial: Float32Array, alphasCumprod: Float32Array,
  C: number, F: number, h: number, w: number,
): Float32Array {
  const filter = freeInitFilter(F, h, w, p);
  const zT = diffuse(latents, initial, alphasCumprod[alphasCumprod.length - 1]);
  const zRand = noiseOf(latents.length, k);
  if (zRand.length !== latents.length) throw new GenerateRequestError(`freeInitNoise gave ${zRand.length} values for iteration ${k}, expected ${latents.length}`);
  const latentsStart = mixFrequencies(zT, zRand, filter, C, F, h, w);
  hooks.onFreeInit?.({ iteration: k, filter, zT, zRand, latentsStart });
  return latentsStart;
}
