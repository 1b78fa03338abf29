// The motion module's temporal self-attention as an ONNX graph (for comparing onnxruntime-web with our
// fused WGSL kernel). Input x: [B·F, P, C] tokens (already normed + positional encoding), frame-major
// rows n = b·F + f. Attention runs across frames at each (b, position):
//   q, k, v = x·Wq, x·Wk, x·Wv               (diffusers to_q/to_k/to_v: no bias)
//   per (b, p, head): softmax(q·kᵀ/√D) · v    over the F frames, D = C / heads
//   out = ctx·Wo + bo                         (to_out.0)
// Weights are given as (in, out) matrices for MatMul (PyTorch Linear (out, in) transposed).
// Without weights (`buildTemporalAttentionCoreGraph`) the input is qkv [B·F, P, 3C] (q | k | v along the
// channels) and the output the attention context [B·F, P, C]: the work of our fused temporalAttention op.
import { OnnxGraphBuilder } from './graph-builder';

export interface TemporalAttentionWeights {
  wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array; bo: Float32Array;
}

export interface TemporalAttentionShape { batch: number; frames: number; positions: number; channels: number; heads: number }

function check(s: TemporalAttentionShape): number {
  if (s.channels % s.heads !== 0) throw new Error(`temporal attention graph: ${s.channels} channels are not divisible into ${s.heads} heads`);
  return s.channels / s.heads;
}

/** Attention across frames of q, k, v [B·F, P, C] → context [B·F, P, C]. */
export function attendAcrossFrames(g: OnnxGraphBuilder, s: TemporalAttentionShape, q: string, k: string, v: string): string {
  const { batch: B, frames: F, positions: P, channels: C, heads: H } = s;
  const D = C / H;
  const toHeads5 = g.int64([B, F, P, H, D]);
  const toBatch = (t: string, perm: number[], last2: [number, number]) =>
    g.node('Reshape', [g.node('Transpose', [g.node('Reshape', [t, toHeads5])], { perm }), g.int64([B * P, H, ...last2])]);
  const qh = toBatch(q, [0, 2, 3, 1, 4], [F, D]); // [B·P, H, F, D]
  const kT = toBatch(k, [0, 2, 3, 4, 1], [D, F]); // [B·P, H, D, F]
  const vh = toBatch(v, [0, 2, 3, 1, 4], [F, D]); // [B·P, H, F, D]
  const scores = g.node('Mul', [g.node('MatMul', [qh, kT]), g.float32([1 / Math.sqrt(D)], [])]);
  const ctx = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), vh]); // [B·P, H, F, D]
  const back = g.node('Transpose', [g.node('Reshape', [ctx, g.int64([B, P, H, F, D])])], { perm: [0, 3, 1, 2, 4] }); // [B, F, P, H, D]
  return g.node('Reshape', [back, g.int64([B * F, P, C])]);
}

/** Full attention block: input `x` [B·F, P, C], output `y` [B·F, P, C]. */
export function buildTemporalAttentionGraph(s: TemporalAttentionShape, w: TemporalAttentionWeights): Uint8Array {
  check(s);
  const { batch: B, frames: F, positions: P, channels: C } = s;
  for (const [k, v] of Object.entries(w)) {
    const want = k === 'bo' ? C : C * C;
    if (v.length !== want) throw new Error(`temporal attention graph: ${k} has ${v.length} values, expected ${want}`);
  }
  const g = new OnnxGraphBuilder('temporal_attention');
  const x = g.input('x', 'float32', [B * F, P, C]);
  const proj = (m: Float32Array) => g.node('MatMul', [x, g.initializer(m, [C, C])]);
  const ctx = attendAcrossFrames(g, s, proj(w.wq), proj(w.wk), proj(w.wv));
  const out = g.node('Add', [g.node('MatMul', [ctx, g.initializer(w.wo, [C, C])]), g.initializer(w.bo, [C])]);
  g.output(out, 'y', 'float32', [B * F, P, C]);
  return g.toBytes();
}

/** Attention only: input `qkv` [B·F, P, 3C], output `y` [B·F, P, C]. */
export function buildTemporalAttentionCoreGraph(s: TemporalAttentionShape): Uint8Array {
  check(s);
  const { batch: B, frames: F, positions: P, channels: C } = s;
  const g = new OnnxGraphBuilder('temporal_attention_core');
  const qkv = g.input('qkv', 'float32', [B * F, P, 3 * C]);
  const [q, k, v] = g.nodeN('Split', [qkv, g.int64([C, C, C])], 3, { axis: 2 });
  g.output(attendAcrossFrames(g, s, q, k, v), 'y', 'float32', [B * F, P, C]);
  return g.toBytes();
}
