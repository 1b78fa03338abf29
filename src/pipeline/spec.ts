// GenerationSpec: the one description of a generation. The form edits it, the worker protocol carries it, history
// stores it, and generate() runs it; everything else derives from it. `parseSpec` is the only way an untrusted
// value (a worker message, a history entry from an older version) becomes a spec: it fills defaults, migrates
// older versions, and refuses anything out of range with a SpecError naming the field.
//
// Room for later: image-to-video (an init image/video through the VAE encoder, SparseCtrl) adds fields in a new
// `version`; parseSpec migrates the older versions forward, so stored history keeps opening.

import { KindedError } from '../errors';

/** The version parseSpec produces. Version 0 = the settings object of the app before the spec (no `version`). */
export const SPEC_VERSION = 1;

/** One prompt keyframe: `prompt` holds from `frame` on, interpolated towards the next keyframe (prompt travel). */
export interface PromptKeyframe {
  frame: number;
  prompt: string;
}

/**
 * Scheduler by name; the pipeline resolves it to a class + config (src/pipeline/scheduler-choice.ts).
 * 'auto' = what the loaded motion module was made for (DDIM for v1–v3, Euler trailing for Lightning, LCM for AnimateLCM).
 */
export type SchedulerName = 'auto' | 'ddim' | 'euler-trailing' | 'lcm';
export const SCHEDULER_NAMES: readonly SchedulerName[] = ['auto', 'ddim', 'euler-trailing', 'lcm'];

/**
 * FreeNoise exactly as diffusers' `enable_free_noise`: the UNet runs on all frames, only the motion modules'
 * temporal self-attentions run in windows of `length` frames every `stride` frames, blended with `weighting`;
 * the initial noise repeats shuffled windows ('shuffle_context').
 */
export interface FreeNoiseContext {
  method: 'freenoise';
  length: number;
  stride: number;
  weighting: 'pyramid' | 'flat';
  noise: 'shuffle_context';
}

/**
 * Sliding context windows over the whole UNet (animatediff-cli / ComfyUI-AnimateDiff-Evolved "uniform" schedule):
 * each UNet call sees `length` frames; windows start every `length − overlap` frames; `stride` = dilation levels
 * (1: contiguous windows only; s: also windows of every 2nd, …, 2^(s−1)-th frame); results blended per frame with
 * `fuse` weights. `closedLoop`: windows wrap around the end, so the last frame leads into the first.
 */
export interface UniformContext {
  method: 'uniform';
  length: number;
  stride: number;
  overlap: number;
  closedLoop: boolean;
  fuse: 'pyramid' | 'flat';
}

export type ContextOptions = FreeNoiseContext | UniformContext;

/** diffusers' `enable_free_init`: re-initialise the noise from the previous result's low frequencies `iterations` − 1 times. */
export interface FreeInitOptions {
  iterations: number;
  method: 'butterworth' | 'gaussian' | 'ideal';
  /** Butterworth order. */
  order: number;
  spatialStopFrequency: number;
  temporalStopFrequency: number;
  /** Iteration k runs max(1, ⌊steps/iterations·(k+1)⌋) steps instead of all of them. */
  fastSampling: boolean;
}

export interface GenerationSpec {
  version: typeof SPEC_VERSION;
  /** Keyframes, sorted by frame, the first at frame 0, every frame < `frames`. One entry = one prompt for the whole clip. */
  prompts: PromptKeyframe[];
  negativePrompt: string;
  /** 32-bit unsigned seed of the pipeline's counter-based RNG (src/pipeline/rng.ts). */
  seed: number;
  frames: number;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: SchedulerName;
  /** Text-encoder layers skipped at the end, as diffusers' `clip_skip`: 0 = the last layer (A1111 "CLIP skip 1"), 1 = the one before (A1111 "CLIP skip 2"). */
  clipSkip: number;
  /** Scales every motion module's residual update: out = x + s·(module(x) − x). 0 = no motion modules, 1 = as trained. */
  motionStrength: number;
  /** Long animations: null = every UNet call sees all frames. */
  context: ContextOptions | null;
  freeInit: FreeInitOptions | null;
}

/** A value that is not a valid GenerationSpec; `field` names the offending field (`prompts[1].frame`, `context.length`). */
export class SpecError extends KindedError {
  constructor(readonly field: string, message: string) {
    // Messages are sentences the user reads: the field name first, capitalised.
    super('invalid-settings', `${message.charAt(0).toUpperCase()}${message.slice(1)}.`);
  }
}

export const LIMITS = {
  frames: { min: 1, max: 1024 },
  /** Any multiple of 8 (the VAE's factor); the pipeline checks what the loaded UNet's downsamplers need. */
  size: { min: 8, max: 2048, multiple: 8 },
  steps: { min: 1, max: 100 },
  guidance: { min: 0, max: 30 },
  seed: { min: 0, max: 0xffffffff },
  clipSkip: { min: 0, max: 11 },
  motionStrength: { min: 0, max: 1.5 },
  contextLength: { min: 1, max: 1024 },
  freeInitIterations: { min: 1, max: 10 },
  freeInitOrder: { min: 1, max: 16 },
  stopFrequency: { min: 0, max: 1 },
  dilationLevels: { min: 1, max: 8 },
} as const;

export const DEFAULT_FREENOISE: FreeNoiseContext = { method: 'freenoise', length: 16, stride: 4, weighting: 'pyramid', noise: 'shuffle_context' };
export const DEFAULT_UNIFORM: UniformContext = { method: 'uniform', length: 16, stride: 1, overlap: 4, closedLoop: false, fuse: 'pyramid' };
/** diffusers' enable_free_init defaults. */
export const DEFAULT_FREEINIT: FreeInitOptions = {
  iterations: 3, method: 'butterworth', order: 4, spatialStopFrequency: 0.25, temporalStopFrequency: 0.25, fastSampling: false,
};

export const DEFAULT_SPEC: GenerationSpec = {
  version: SPEC_VERSION,
  prompts: [{ frame: 0, prompt: '' }],
  negativePrompt: '',
  seed: 0,
  frames: 16,
  width: 512,
  height: 512,
  steps: 25,
  guidance: 7.5,
  scheduler: 'auto',
  clipSkip: 0,
  motionStrength: 1,
  context: null,
  freeInit: null,
};

/** A spec from partial fields over the defaults, validated (tests, presets, callers that build specs in code). */
export function makeSpec(fields: Partial<Omit<GenerationSpec, 'version'>> & { prompt?: string } = {}): GenerationSpec {
  const { prompt, ...rest } = fields;
  return parseSpec({ ...DEFAULT_SPEC, ...(prompt !== undefined ? { prompts: [{ frame: 0, prompt }] } : {}), ...rest, version: SPEC_VERSION });
}

/** The prompt at frame 0 (the whole clip's prompt when there is one keyframe). */
export const firstPrompt = (s: GenerationSpec): string => s.prompts[0].prompt;

/** The prompts in one line: the prompt, or the keyframes' prompts joined by arrows ("a bud → a flower"). */
export const promptSummary = (s: GenerationSpec): string => s.prompts.map((k) => k.prompt).join(' → ');

// ---------------------------------------------------------------- validation

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : Array.isArray(v) ? 'a list' : String(v));

function int(o: Obj, key: string, path: string, range: { min: number; max: number }, fallback?: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
    throw new SpecError(path, `${path} must be a whole number from ${range.min} to ${range.max} (got ${show(o[key])})`);
  }
  return v;
}

function num(o: Obj, key: string, path: string, range: { min: number; max: number }, fallback?: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < range.min || v > range.max) {
    throw new SpecError(path, `${path} must be a number from ${range.min} to ${range.max} (got ${show(o[key])})`);
  }
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, path: string, allowed: readonly T[], fallback?: T): T {
  const v = o[key] ?? fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new SpecError(path, `${path} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${show(o[key])})`);
  }
  return v as T;
}

function bool(o: Obj, key: string, path: string, fallback?: boolean): boolean {
  const v = o[key] ?? fallback;
  if (typeof v !== 'boolean') throw new SpecError(path, `${path} must be true or false (got ${show(o[key])})`);
  return v;
}

function str(o: Obj, key: string, path: string, fallback?: string): string {
  const v = o[key] ?? fallback;
  if (typeof v !== 'string') throw new SpecError(path, `${path} must be text (got ${show(o[key])})`);
  return v;
}

function parsePrompts(v: unknown, frames: number): PromptKeyframe[] {
  if (!Array.isArray(v) || v.length === 0) throw new SpecError('prompts', `prompts must be a non-empty list of {frame, prompt} keyframes (got ${show(v)})`);
  const kfs = v.map((k, i): PromptKeyframe => {
    const path = `prompts[${i}]`;
    if (!isObj(k)) throw new SpecError(path, `${path} must be a {frame, prompt} keyframe (got ${show(k)})`);
    const frame = int(k, 'frame', `${path}.frame`, { min: 0, max: LIMITS.frames.max - 1 });
    if (frame >= frames) throw new SpecError(`${path}.frame`, `Keyframe at frame ${frame} is out of range: the animation has frames 0 to ${frames - 1}`);
    const prompt = str(k, 'prompt', `${path}.prompt`);
    if (!prompt.trim()) throw new SpecError(`${path}.prompt`, v.length === 1 ? 'The prompt is empty: write a prompt first' : `The prompt of the keyframe at frame ${frame} is empty`);
    return { frame, prompt };
  });
  kfs.sort((a, b) => a.frame - b.frame);
  for (let i = 1; i < kfs.length; i++) {
    if (kfs[i].frame === kfs[i - 1].frame) throw new SpecError('prompts', `Two keyframes are at frame ${kfs[i].frame}: give each frame one prompt`);
  }
  if (kfs[0].frame !== 0) throw new SpecError('prompts', `The first keyframe must be at frame 0 (it is at frame ${kfs[0].frame}): the animation starts there`);
  return kfs;
}

function parseContext(v: unknown): ContextOptions | null {
  if (v === null || v === undefined) return null;
  if (!isObj(v)) throw new SpecError('context', `context must be null or an object with a method (got ${show(v)})`);
  const method = oneOf(v, 'method', 'context.method', ['freenoise', 'uniform'] as const);
  const length = int(v, 'length', 'context.length', { min: 1, max: LIMITS.contextLength.max }, method === 'freenoise' ? DEFAULT_FREENOISE.length : DEFAULT_UNIFORM.length);
  if (method === 'freenoise') {
    const stride = int(v, 'stride', 'context.stride', { min: 1, max: length }, DEFAULT_FREENOISE.stride);
    return {
      method, length, stride,
      weighting: oneOf(v, 'weighting', 'context.weighting', ['pyramid', 'flat'] as const, DEFAULT_FREENOISE.weighting),
      noise: oneOf(v, 'noise', 'context.noise', ['shuffle_context'] as const, DEFAULT_FREENOISE.noise),
    };
  }
  const overlap = int(v, 'overlap', 'context.overlap', { min: 0, max: length - 1 }, Math.min(DEFAULT_UNIFORM.overlap, length - 1));
  return {
    method, length,
    stride: int(v, 'stride', 'context.stride', LIMITS.dilationLevels, DEFAULT_UNIFORM.stride),
    overlap,
    closedLoop: bool(v, 'closedLoop', 'context.closedLoop', DEFAULT_UNIFORM.closedLoop),
    fuse: oneOf(v, 'fuse', 'context.fuse', ['pyramid', 'flat'] as const, DEFAULT_UNIFORM.fuse),
  };
}

function parseFreeInit(v: unknown): FreeInitOptions | null {
  if (v === null || v === undefined) return null;
  if (!isObj(v)) throw new SpecError('freeInit', `freeInit must be null or an object (got ${show(v)})`);
  const d = DEFAULT_FREEINIT;
  return {
    iterations: int(v, 'iterations', 'freeInit.iterations', LIMITS.freeInitIterations, d.iterations),
    method: oneOf(v, 'method', 'freeInit.method', ['butterworth', 'gaussian', 'ideal'] as const, d.method),
    order: int(v, 'order', 'freeInit.order', LIMITS.freeInitOrder, d.order),
    spatialStopFrequency: num(v, 'spatialStopFrequency', 'freeInit.spatialStopFrequency', LIMITS.stopFrequency, d.spatialStopFrequency),
    temporalStopFrequency: num(v, 'temporalStopFrequency', 'freeInit.temporalStopFrequency', LIMITS.stopFrequency, d.temporalStopFrequency),
    fastSampling: bool(v, 'fastSampling', 'freeInit.fastSampling', d.fastSampling),
  };
}

/**
 * Version 0 (the app's settings before the spec): `prompt` string, scheduler without 'auto', `clipSkip` counted as
 * A1111 does (1 = the last layer) or absent.
 */
function migrateV0(o: Obj): Obj {
  const { prompt, clipSkip, ...rest } = o;
  const a1111 = clipSkip ?? 1;
  return {
    ...rest,
    version: SPEC_VERSION,
    prompts: [{ frame: 0, prompt }],
    clipSkip: typeof a1111 === 'number' ? a1111 - 1 : a1111,
  };
}

/**
 * An untrusted value → a GenerationSpec, or a SpecError naming the first bad field. Missing optional fields
 * (negativePrompt, scheduler, clipSkip, motionStrength, context, freeInit) take their defaults; a value without
 * `version` is read as the app's pre-spec settings (version 0) and migrated. Unknown fields are dropped.
 */
export function parseSpec(value: unknown): GenerationSpec {
  if (!isObj(value)) throw new SpecError('', `A generation spec must be an object (got ${show(value)})`);
  let o = value;
  if (o.version === undefined && typeof o.prompt === 'string') o = migrateV0(o);
  if (o.version !== SPEC_VERSION) {
    throw new SpecError('version', `Generation spec version ${show(o.version)} is not supported (this app reads versions 0 to ${SPEC_VERSION})`);
  }
  const frames = int(o, 'frames', 'frames', LIMITS.frames);
  return {
    version: SPEC_VERSION,
    prompts: parsePrompts(o.prompts, frames),
    negativePrompt: str(o, 'negativePrompt', 'negativePrompt', ''),
    seed: int(o, 'seed', 'seed', LIMITS.seed),
    frames,
    width: size(o, 'width'),
    height: size(o, 'height'),
    steps: int(o, 'steps', 'steps', LIMITS.steps),
    guidance: num(o, 'guidance', 'guidance', LIMITS.guidance),
    scheduler: oneOf(o, 'scheduler', 'scheduler', SCHEDULER_NAMES, 'auto'),
    clipSkip: int(o, 'clipSkip', 'clipSkip', LIMITS.clipSkip, 0),
    motionStrength: num(o, 'motionStrength', 'motionStrength', LIMITS.motionStrength, 1),
    context: parseContext(o.context),
    freeInit: parseFreeInit(o.freeInit),
  };
}

function size(o: Obj, key: 'width' | 'height'): number {
  const v = o[key];
  const { min, max, multiple } = LIMITS.size;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max || v % multiple !== 0) {
    throw new SpecError(key, `${key} must be a multiple of ${multiple} from ${min} to ${max} (got ${show(v)})`);
  }
  return v;
}
