// Prompt travel: keyframe prompts → one text embedding per frame, as diffusers' FreeNoise prompt interpolation
// (v0.39.0 pipelines/free_noise_utils.py `_encode_prompt_free_noise` 256-354 and `_lerp` 430-442):
//   keyframes sorted by frame (frame 0 required); frame F-1 gets the last keyframe's prompt (overriding one there);
//   the keyframe prompts are encoded once each; for consecutive keyframes (s, e) frames s..e INCLUSIVE get
//     E_f = (1 − a)·E_s + a·E_e,  a = (f − s)/(e − s)       (float32: both scalars rounded, as torch does)
//   so a keyframe shared by two segments keeps the later segment's value (a = 0: exactly its own embedding).
//   The negative prompt is the same with its own keyframes ("" → {0: ""}).
// One prompt is the case {0: p}: every frame gets (1 − a)·E + a·E (= E up to float32 rounding, as upstream).

import type { PromptKeyframe } from './spec';

export type { PromptKeyframe };

/** A keyframe list the pipeline cannot use (names the keyframe). */
export class PromptTravelError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'PromptTravelError';
  }
}

/**
 * diffusers' keyframe checks and completion: integer frames, frame 0 present, every frame < F, no duplicates;
 * sorted, then frame F-1 set to the last keyframe's prompt. (An empty prompt is allowed: "" is the usual negative.)
 */
export function completeKeyframes(keys: readonly PromptKeyframe[], frames: number): PromptKeyframe[] {
  if (!Number.isInteger(frames) || frames < 1) throw new PromptTravelError(`frames ${frames} must be a positive integer`);
  if (!keys.length) throw new PromptTravelError('no prompt keyframes');
  const seen = new Set<number>();
  for (const k of keys) {
    if (!Number.isInteger(k.frame) || k.frame < 0) throw new PromptTravelError(`keyframe ${k.frame} must be a frame index ≥ 0`);
    if (k.frame >= frames) throw new PromptTravelError(`keyframe ${k.frame} is past the last frame (${frames - 1})`);
    if (seen.has(k.frame)) throw new PromptTravelError(`frame ${k.frame} has two keyframes`);
    if (typeof k.prompt !== 'string') throw new PromptTravelError(`keyframe ${k.frame} has no prompt text`);
    seen.add(k.frame);
  }
  if (!seen.has(0)) throw new PromptTravelError('the first keyframe must be at frame 0 (a starting prompt is needed)');
  const sorted = [...keys].sort((a, b) => a.frame - b.frame).map((k) => ({ ...k }));
  const last = sorted[sorted.length - 1];
  if (last.frame === frames - 1) last.prompt = sorted[sorted.length - 1].prompt; // upstream overwrites it with itself
  else sorted.push({ frame: frames - 1, prompt: last.prompt });
  return sorted;
}

/** Where frame f's embedding comes from: segment (start, end) keyframe indices and alpha (the later segment wins). */
export interface FrameBlend {
  from: number;
  to: number;
  alpha: number;
}

/** Per frame, the keyframe pair and alpha of diffusers' interpolation (keyframes completed, ascending frames). */
export function frameBlends(keyframeFrames: readonly number[], frames: number): FrameBlend[] {
  const out: FrameBlend[] = new Array(frames);
  if (keyframeFrames.length === 1) {
    // Only for F = 1 (completion adds F-1 otherwise): upstream would leave zeros; the single keyframe is meant.
    out.fill({ from: 0, to: 0, alpha: 0 });
    return out;
  }
  for (let i = 0; i + 1 < keyframeFrames.length; i++) {
    const s = keyframeFrames[i], e = keyframeFrames[i + 1];
    for (let f = s; f <= e; f++) out[f] = { from: i, to: i + 1, alpha: (f - s) / (e - s) };
  }
  return out;
}

/**
 * Per-frame embeddings [F, tokens, dim] from keyframe embeddings [K, tokens, dim] (K = keyframeFrames.length):
 * E_f = fround(1 − a)·E_from + fround(a)·E_to, each product and the sum rounded to float32 (torch float32).
 */
export function interpolateKeyframes(embeds: Float32Array, keyframeFrames: readonly number[], frames: number): Float32Array {
  const K = keyframeFrames.length;
  if (K < 1 || embeds.length % K !== 0) throw new PromptTravelError(`${embeds.length} embedding values do not split into ${K} keyframes`);
  const n = embeds.length / K;
  const out = new Float32Array(frames * n);
  const f32 = Math.fround;
  for (const [f, b] of frameBlends(keyframeFrames, frames).entries()) {
    const wa = f32(1 - b.alpha), wb = f32(b.alpha);
    const A = b.from * n, B = b.to * n, o = f * n;
    for (let i = 0; i < n; i++) out[o + i] = f32(f32(wa * embeds[A + i]) + f32(wb * embeds[B + i]));
  }
  return out;
}

/** Encodes prompts to [prompts.length, tokens, dim] float32 (the pipeline's text encoder). */
export type EncodePrompts = (prompts: string[]) => Promise<Float32Array>;

/** Keyframes → per-frame embeddings [F, tokens, dim]: complete, encode each keyframe once (one batch), interpolate. */
export async function travelEmbeddings(encode: EncodePrompts, keys: readonly PromptKeyframe[], frames: number): Promise<Float32Array> {
  const done = completeKeyframes(keys, frames);
  const embeds = await encode(done.map((k) => k.prompt));
  return interpolateKeyframes(embeds, done.map((k) => k.frame), frames);
}
