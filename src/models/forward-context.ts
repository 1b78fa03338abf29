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
  /** Text embeddings, one per sample (not repeated per frame): [batch, tokens, crossAttentionDim]. */
  text: Tensor;
  /** GroupNorm pooling of ResNets and conv_norm_out: 1 (per frame) or `frames` (official v1). */
  resnetFramesPerGroup: number;
  /** GroupNorm pooling of the motion modules: 1 (official) or `frames` (diffusers). */
  motionFramesPerGroup: number;
  /** Largest tensor a layer may make (the binding limit; smaller in tests to exercise chunking), for src/plan's decisions. */
  limits: ChunkLimits;
}
