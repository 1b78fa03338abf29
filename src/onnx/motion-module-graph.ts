// One whole AnimateDiff motion module as an ONNX graph, from the same canonical (diffusers-named) weights
// MotionModule.load reads (src/models/motion-module.ts is the reference semantics): for comparing
// onnxruntime-web on the whole block with our engine, and as an independent cross-check of it.
//
//   x [B·F, P, C] tokens (our NHWC layout flattened, frame-major rows n = b·F + f)
//   t = GN(x)·Win + b_in                         GroupNorm eps 1e-6 over (P positions × C/G channels) of each
//                                                frame (framesPerGroup 1, official) or of each clip's F frames
//   per transformer block, per sub-layer k ∈ {attn1, attn2}:
//       y = LN_k(t) + pe[f]                      LN eps 1e-5, pe = sinusoid [F, C] broadcast over positions
//       t = t + attn_over_frames(y·Wq, y·Wk, y·Wv)·Wo + bo
//   t = t + (h[:, :4C] · gelu_erf(h[:, 4C:]))·W2 + b2,  h = LN3(t)·W1 + b1     (GEGLU, value = first half)
//   out = t·Wout + b_out + x
//
// The layers (Linear, LayerNorm, GroupNorm, GEGLU) are src/onnx/graph-layers.ts's, shared with the ResNet and
// spatial-transformer graphs (src/onnx/unet-layer-graph.ts).
import type { WeightMap } from '../weights/weight-map';
import { sinusoidalPositionalEncoding } from '../ops/positional-encoding';
import { OnnxGraphBuilder } from './graph-builder';
import { checkWeightShape, GraphScope } from './graph-layers';
import { attendAcrossFrames } from './temporal-attention-graph';

const GN_EPS = 1e-6;
const LN_EPS = 1e-5;

export interface MotionModuleGraphShape {
  batch: number;
  frames: number;
  /** h·w latent positions per frame. */
  positions: number;
  channels: number;
  heads: number;
  groups: number;
  /** 1 = per-frame GroupNorm (official AnimateDiff), `frames` = pooled over each clip's frames (diffusers). Default 1. */
  framesPerGroup?: number;
}

/**
 * The canonical weights of a motion module with `blocks` transformer blocks (two temporal attention sub-layers
 * each) and their PyTorch shapes: what `buildMotionModuleGraph` and MotionModule.load read.
 */
export function motionModuleWeightShapes(channels: number, blocks: number): Map<string, number[]> {
  const C = channels;
  const m = new Map<string, number[]>();
  const norm = (n: string) => { m.set(`${n}.weight`, [C]); m.set(`${n}.bias`, [C]); };
  const lin = (n: string, out: number, inF: number, bias = true) => { m.set(`${n}.weight`, [out, inF]); if (bias) m.set(`${n}.bias`, [out]); };
  norm('norm');
  lin('proj_in', C, C);
  for (let i = 0; i < blocks; i++) {
    const b = `transformer_blocks.${i}`;
    for (const k of [1, 2]) {
      norm(`${b}.norm${k}`);
      for (const p of ['to_q', 'to_k', 'to_v']) lin(`${b}.attn${k}.${p}`, C, C, false);
      lin(`${b}.attn${k}.to_out.0`, C, C);
    }
    norm(`${b}.norm3`);
    lin(`${b}.ff.net.0.proj`, 8 * C, C);
    lin(`${b}.ff.net.2`, C, 4 * C);
  }
  lin('proj_out', C, C);
  return m;
}

function checkShape(s: MotionModuleGraphShape): void {
  const { batch: B, frames: F, positions: P, channels: C, heads: H, groups: G } = s;
  for (const [k, v] of Object.entries({ batch: B, frames: F, positions: P, channels: C, heads: H, groups: G })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`motion module graph: ${k} must be a positive integer, got ${v}`);
  }
  if (C % H !== 0) throw new RangeError(`motion module graph: ${C} channels do not split into ${H} heads`);
  if (C % G !== 0) throw new RangeError(`motion module graph: ${C} channels do not split into ${G} groups`);
  if (C % 2 !== 0) throw new RangeError(`motion module graph: the positional encoding needs an even channel count, got ${C}`);
  const fpg = s.framesPerGroup ?? 1;
  if (fpg !== 1 && fpg !== F) throw new RangeError(`motion module graph: framesPerGroup must be 1 or ${F}, got ${fpg}`);
}

function countBlocks(w: WeightMap, prefix: string): number {
  let n = 0;
  while (w.has(`${prefix}transformer_blocks.${n}.norm1.weight`)) n++;
  return n;
}

/**
 * The ONNX model (opset 17) of one motion module on `weights`: input `x` [B·F, P, C] float32, output `y` (same
 * shape). The block count comes from the weight names (`transformer_blocks.N.norm1.weight`); every weight's shape
 * is checked against `motionModuleWeightShapes`.
 */
export async function buildMotionModuleGraph(weights: WeightMap, s: MotionModuleGraphShape): Promise<Uint8Array> {
  const g = new OnnxGraphBuilder('motion_module');
  const { batch: B, frames: F, positions: P, channels: C } = s;
  const x = g.input('x', 'float32', [B * F, P, C]);
  g.output(await addMotionModule(new GraphScope(g, weights), x, s), 'y', 'float32', [B * F, P, C]);
  return g.toBytes();
}

/** The motion module under scope `w` applied to tokens x [B·F, P, C] (a value of `w.g`); returns its output. */
export async function addMotionModule(w: GraphScope, x: string, s: MotionModuleGraphShape): Promise<string> {
  checkShape(s);
  const { g } = w;
  const { batch: B, frames: F, positions: P, channels: C, groups: G } = s;
  const blocks = countBlocks(w.weights, w.prefix ? `${w.prefix}.` : '');
  if (blocks < 1) throw new Error(`motion module graph: the weights have no ${w.name('transformer_blocks.0.norm1.weight')}`);
  for (const [name, shape] of motionModuleWeightShapes(C, blocks)) checkWeightShape(w.weights, w.name(name), shape, 'motion module graph');

  let t = await w.linear(await w.groupNorm(x, 'norm', { rows: B * F, positions: P, groups: G, eps: GN_EPS, framesPerGroup: s.framesPerGroup }), 'proj_in');
  // pe [F, C] as [1, F, 1, C]: added to LN(t) viewed as [B, F, P, C].
  const pe = g.float32(sinusoidalPositionalEncoding(F, C), [1, F, 1, C]);
  const clips = g.int64([B, F, P, C]);
  const tokens = g.int64([B * F, P, C]);
  const attnShape = { batch: B, frames: F, positions: P, channels: C, heads: s.heads };
  for (let i = 0; i < blocks; i++) {
    const b = w.pp('transformer_blocks').pp(i);
    for (const k of [1, 2]) {
      const ln = await b.layerNorm(t, `norm${k}`, LN_EPS);
      const y = g.node('Reshape', [g.node('Add', [g.node('Reshape', [ln, clips]), pe]), tokens]);
      const a = b.pp(`attn${k}`);
      const ctx = attendAcrossFrames(g, attnShape, await a.linear(y, 'to_q'), await a.linear(y, 'to_k'), await a.linear(y, 'to_v'));
      t = g.node('Add', [t, await a.linear(ctx, 'to_out.0')]);
    }
    t = g.node('Add', [t, await b.gegluFeedForward(await b.layerNorm(t, 'norm3', LN_EPS), 'ff')]);
  }
  return g.node('Add', [await w.linear(t, 'proj_out'), x]);
}
