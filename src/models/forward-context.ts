// What every UNet block needs besides its input: sizes of the frame batch, the conditioning, and the
// GroupNorm pooling that the chosen semantics implies. Built once per UNet call (src/models/unet.ts).
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';
import type { ChunkLimits } from '../plan/chunking';

export interface ForwardContext {
  e: Engine;
  /** Samples b (CFG halves count separately); activations are [batch*frames, h, w, C], row n = b*F + f. */
  batch: number;
  frames: number;
  /** silu(time embedding), [batch, timeEmbedDim]: what every ResNet's time_emb_proj reads. */
  tembAct: Tensor;
  /**
   * Text embeddings, one per sample [batch, tokens, crossAttentionDim] (not repeated per frame), or one per frame
   * [batch*frames, tokens, crossAttentionDim] (row b*F + f: prompt travel).
   */
  text: Tensor;
  /** GroupNorm pooling of ResNets and conv_norm_out: 1 (per frame) or `frames` (official v1). */
  resnetFramesPerGroup: number;
  /** GroupNorm pooling of the motion modules: 1 (official) or `frames` (diffusers). */
  motionFramesPerGroup: number;
  /** Largest tensor a layer may make (the binding limit; smaller in tests to exercise chunking), for src/plan's decisions. */
  limits: ChunkLimits;
  /** What the motion modules do besides their plain forward (FreeNoise windows, motion strength, a debug probe). */
  motion: MotionForwardOptions;
}

/**
 * FreeNoise (diffusers `enable_free_noise`): the motion modules' two temporal self-attentions run per window of
 * `length` frames (positions restarting at 0 in each) and the window outputs are blended per frame:
 * blended[f] = Σ_windows c[j]·h_window[j], f = start + j, for from ≤ j < length. Built by src/pipeline/freenoise.ts.
 */
export interface TemporalWindows {
  length: number;
  /** In diffusers' order (regular windows by start, then the tail window); together they cover every frame. */
  windows: readonly { start: number; from: number; coefficients: readonly number[] }[];
}

/** Called with a motion-module transformer block's intermediates (read them synchronously; released after). */
export type MotionProbeFn = (name: string, t: Tensor) => void;

export interface MotionForwardOptions {
  windows?: TemporalWindows;
  /** s in out = x + s·(module(x) − x); default 1. s = 0 skips the motion modules. */
  strength?: number;
  /**
   * Debug: intermediates of one transformer block, `module` = the motion module's weight prefix (e.g.
   * `down_blocks.3.motion_modules.0`), names `block_in`, `[window{w}.]attn{k}_in` (LN output + positions),
   * `[window{w}.]attn{k}_out` (to_out output), `blended` (windowed only), `block_out`; layout [b*F, h*w, C].
   */
  probe?: { module: string; block: number; fn: MotionProbeFn };
}
