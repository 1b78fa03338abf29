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
// PyTorch Linear weights [out, in] are transposed here into [in, out] MatMul initializers. GroupNorm is written
// as Reshape + ReduceMean (opset 17 has no GroupNormalization, and opset 18's normalises per group with
// per-group affine parameters, which is not PyTorch's per-channel affine).
import type { WeightMap } from '../weights/weight-map';
import { sinusoidalPositionalEncoding } from '../ops/positional-encoding';
import { OnnxGraphBuilder } from './graph-builder';
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

function countBlocks(w: WeightMap): number {
  let n = 0;
  while (w.has(`transformer_blocks.${n}.norm1.weight`)) n++;
  return n;
}

/** [out, in] row-major → [in, out]. */
function transpose(a: Float32Array, out: number, inF: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) t[i * out + o] = a[o * inF + i];
  return t;
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

/**
 * The ONNX model (opset 17) of one motion module on `weights`: input `x` [B·F, P, C] float32, output `y` (same
 * shape). The block count comes from the weight names (`transformer_blocks.N.norm1.weight`); every weight's shape
 * is checked against `motionModuleWeightShapes`.
 */
export async function buildMotionModuleGraph(weights: WeightMap, s: MotionModuleGraphShape): Promise<Uint8Array> {
  checkShape(s);
  const { batch: B, frames: F, positions: P, channels: C, groups: G } = s;
  const fpg = s.framesPerGroup ?? 1;
  const blocks = countBlocks(weights);
  if (blocks < 1) throw new Error('motion module graph: the weights have no transformer_blocks.0.norm1.weight');
  const expected = motionModuleWeightShapes(C, blocks);
  for (const [name, shape] of expected) {
    if (!weights.has(name)) throw new Error(`motion module graph: missing weight ${name}`);
    const got = weights.shape(name);
    // A 1×1 conv [out, in, 1, 1] is the same matrix as a Linear [out, in].
    const same = got.length >= shape.length && got.every((d, i) => (i < shape.length ? d === shape[i] : d === 1));
    if (!same) throw new Error(`motion module graph: weight ${name} has shape [${got.join(', ')}], expected [${shape.join(', ')}]`);
  }

  const g = new OnnxGraphBuilder('motion_module');
  const read = (name: string) => weights.read(name);
  const vec = async (name: string) => g.initializer(await read(name), [C]);
  /** x·Wᵀ (+ b) for a PyTorch Linear `name` [out, in]. */
  const linear = async (x: string, name: string, out: number, inF: number): Promise<string> => {
    const mm = g.node('MatMul', [x, g.initializer(transpose(await read(`${name}.weight`), out, inF), [inF, out])]);
    return expected.has(`${name}.bias`) ? g.node('Add', [mm, g.initializer(await read(`${name}.bias`), [out])]) : mm;
  };
  const layerNorm = async (x: string, name: string) =>
    g.node('LayerNormalization', [x, await vec(`${name}.weight`), await vec(`${name}.bias`)], { axis: -1, epsilon: { float: LN_EPS } });

  const x = g.input('x', 'float32', [B * F, P, C]);

  // GroupNorm: statistics over axes (positions·frames-per-group, channels-in-group) of [B·F/fpg, fpg·P, G, C/G].
  const grouped = g.node('Reshape', [x, g.int64([(B * F) / fpg, fpg * P, G, C / G])]);
  const mean = g.node('ReduceMean', [grouped], { axes: [1, 3], keepdims: 1 });
  const centred = g.node('Sub', [grouped, mean]);
  const variance = g.node('ReduceMean', [g.node('Mul', [centred, centred])], { axes: [1, 3], keepdims: 1 });
  const normedG = g.node('Div', [centred, g.node('Sqrt', [g.node('Add', [variance, g.float32([GN_EPS], [])])])]);
  const normed = g.node('Reshape', [normedG, g.int64([B * F, P, C])]);
  const gn = g.node('Add', [g.node('Mul', [normed, await vec('norm.weight')]), await vec('norm.bias')]);
  let t = await linear(gn, 'proj_in', C, C);

  // pe [F, C] as [1, F, 1, C]: added to LN(t) viewed as [B, F, P, C].
  const pe = g.float32(sinusoidalPositionalEncoding(F, C), [1, F, 1, C]);
  const clips = g.int64([B, F, P, C]);
  const tokens = g.int64([B * F, P, C]);
  const attnShape = { batch: B, frames: F, positions: P, channels: C, heads: s.heads };
  for (let i = 0; i < blocks; i++) {
    const b = `transformer_blocks.${i}`;
    for (const k of [1, 2]) {
      const ln = await layerNorm(t, `${b}.norm${k}`);
      const y = g.node('Reshape', [g.node('Add', [g.node('Reshape', [ln, clips]), pe]), tokens]);
      const a = `${b}.attn${k}`;
      const ctx = attendAcrossFrames(g, attnShape, await linear(y, `${a}.to_q`, C, C), await linear(y, `${a}.to_k`, C, C), await linear(y, `${a}.to_v`, C, C));
      t = g.node('Add', [t, await linear(ctx, `${a}.to_out.0`, C, C)]);
    }
    // GEGLU feed-forward: value · gelu(gate), gelu(z) = z·(1 + erf(z/√2))/2.
    const h = await linear(await layerNorm(t, `${b}.norm3`), `${b}.ff.net.0.proj`, 8 * C, C);
    const [value, gate] = g.nodeN('Split', [h, g.int64([4 * C, 4 * C])], 2, { axis: -1 });
    const erf = g.node('Erf', [g.node('Mul', [gate, g.float32([Math.SQRT1_2], [])])]);
    const gelu = g.node('Mul', [g.node('Mul', [gate, g.node('Add', [erf, g.float32([1], [])])]), g.float32([0.5], [])]);
    t = g.node('Add', [t, await linear(g.node('Mul', [value, gelu]), `${b}.ff.net.2`, C, 4 * C)]);
  }
  const out = g.node('Add', [await linear(t, 'proj_out', C, C), x]);
  g.output(out, 'y', 'float32', [B * F, P, C]);
  return g.toBytes();
}
