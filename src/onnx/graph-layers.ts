// The layers the UNet's ONNX graphs share (motion module, ResNet block, spatial transformer), written once on an
// OnnxGraphBuilder over canonical (diffusers-named) weights. Activations are tokens [N, P, C] (our NHWC layout
// flattened: N = B·F frame rows n = b·F + f, P = h·w positions) unless a function says otherwise.
// PyTorch Linear weights [out, in] (or 1×1 convs [out, in, 1, 1]) are transposed into [in, out] MatMul initializers.
import type { WeightMap } from '../weights/weight-map';
import type { OnnxGraphBuilder } from './graph-builder';

/** [out, in] row-major → [in, out]. */
function transpose(a: Float32Array, out: number, inF: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) t[i * out + o] = a[o * inF + i];
  return t;
}

/** Throws unless weight `name` has `shape` (trailing 1s allowed: a 1×1 conv [out, in, 1, 1] is a Linear [out, in]). */
export function checkWeightShape(weights: WeightMap, name: string, shape: readonly number[], what: string): void {
  if (!weights.has(name)) throw new Error(`${what}: missing weight ${name}`);
  const got = weights.shape(name);
  const same = got.length >= shape.length && got.every((d, i) => (i < shape.length ? d === shape[i] : d === 1));
  if (!same) throw new Error(`${what}: weight ${name} has shape [${got.join(', ')}], expected [${shape.join(', ')}]`);
}

/** A graph builder plus the weights under one name prefix (as src/models/layers.ts's Scope). */
export class GraphScope {
  constructor(readonly g: OnnxGraphBuilder, readonly weights: WeightMap, readonly prefix = '') {}

  pp(part: string | number): GraphScope {
    return new GraphScope(this.g, this.weights, this.name(String(part)));
  }

  name(suffix: string): string {
    return this.prefix ? `${this.prefix}.${suffix}` : suffix;
  }

  has(suffix: string): boolean {
    return this.weights.has(this.name(suffix));
  }

  shape(suffix: string): readonly number[] {
    const n = this.name(suffix);
    if (!this.weights.has(n)) throw new Error(`onnx graph ${this.g.graphName}: missing weight ${n}`);
    return this.weights.shape(n);
  }

  /** A float32 initializer of weight `suffix` with `dims`. */
  async init(suffix: string, dims: number[]): Promise<string> {
    return this.g.initializer(await this.weights.read(this.name(suffix)), dims);
  }

  /** x·Wᵀ (+ b when the weights have one) for a Linear or 1×1 conv `name` [out, in(, 1, 1)]; x [..., in]. */
  async linear(x: string, name: string): Promise<string> {
    const [out, inF] = this.shape(`${name}.weight`);
    const w = this.g.initializer(transpose(await this.weights.read(this.name(`${name}.weight`)), out, inF), [inF, out]);
    const mm = this.g.node('MatMul', [x, w]);
    return this.has(`${name}.bias`) ? this.g.node('Add', [mm, await this.init(`${name}.bias`, [out])]) : mm;
  }

  /** LayerNorm over the last axis with `name`.weight / .bias. */
  async layerNorm(x: string, name: string, eps: number): Promise<string> {
    const C = this.shape(`${name}.weight`)[0];
    return this.g.node('LayerNormalization', [x, await this.init(`${name}.weight`, [C]), await this.init(`${name}.bias`, [C])], { axis: -1, epsilon: { float: eps } });
  }

  /**
   * PyTorch GroupNorm (per-channel affine) of tokens x [N, P, C], statistics over (framesPerGroup frames × P
   * positions × C/G channels) of each group, optionally followed by SiLU. Written as Reshape + ReduceMean: opset 17
   * has no GroupNormalization, and opset 18's has per-group affine parameters, not PyTorch's per-channel ones.
   */
  async groupNorm(x: string, name: string, s: { rows: number; positions: number; groups: number; eps: number; framesPerGroup?: number; silu?: boolean }): Promise<string> {
    const { g } = this;
    const C = this.shape(`${name}.weight`)[0];
    const fpg = s.framesPerGroup ?? 1;
    const G = s.groups;
    if (C % G !== 0) throw new RangeError(`onnx graph ${g.graphName}: ${C} channels of ${this.name(name)} do not split into ${G} groups`);
    if (s.rows % fpg !== 0) throw new RangeError(`onnx graph ${g.graphName}: ${s.rows} rows are not whole groups of ${fpg} frames`);
    const grouped = g.node('Reshape', [x, g.int64([s.rows / fpg, fpg * s.positions, G, C / G])]);
    const mean = g.node('ReduceMean', [grouped], { axes: [1, 3], keepdims: 1 });
    const centred = g.node('Sub', [grouped, mean]);
    const variance = g.node('ReduceMean', [g.node('Mul', [centred, centred])], { axes: [1, 3], keepdims: 1 });
    const normedG = g.node('Div', [centred, g.node('Sqrt', [g.node('Add', [variance, g.float32([s.eps], [])])])]);
    const normed = g.node('Reshape', [normedG, g.int64([s.rows, s.positions, C])]);
    const y = g.node('Add', [g.node('Mul', [normed, await this.init(`${name}.weight`, [C])]), await this.init(`${name}.bias`, [C])]);
    return s.silu ? silu(g, y) : y;
  }

  /**
   * 3×3 conv, stride 1, padding 1, of tokens x [N, h·w, Cin] → [N, h·w, Cout]: transposed to NCHW for ONNX's Conv
   * (weight [Cout, Cin, 3, 3] as stored) and back.
   */
  async conv3x3(x: string, name: string, s: { rows: number; height: number; width: number }): Promise<string> {
    const { g } = this;
    const shape = this.shape(`${name}.weight`);
    if (shape.length !== 4 || shape[2] !== 3 || shape[3] !== 3) throw new Error(`onnx graph ${g.graphName}: ${this.name(`${name}.weight`)} has shape [${shape.join(', ')}], expected a 3×3 conv`);
    const [co, ci] = shape;
    const nchw = g.node('Transpose', [g.node('Reshape', [x, g.int64([s.rows, s.height, s.width, ci])])], { perm: [0, 3, 1, 2] });
    const inputs = [nchw, await this.init(`${name}.weight`, [...shape])];
    if (this.has(`${name}.bias`)) inputs.push(await this.init(`${name}.bias`, [co]));
    const conv = g.node('Conv', inputs, { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] });
    return g.node('Reshape', [g.node('Transpose', [conv], { perm: [0, 2, 3, 1] }), g.int64([s.rows, s.height * s.width, co])]);
  }

  /**
   * diffusers FeedForward with GEGLU, without the residual: (h[..., :I] · gelu_erf(h[..., I:]))·W2 + b2 with
   * h = x·W1 + b1 (`ff.net.0.proj` [2I, C], `ff.net.2` [C, I]); the value is the first half.
   */
  async gegluFeedForward(x: string, name: string): Promise<string> {
    const { g } = this;
    const inner = this.shape(`${name}.net.0.proj.weight`)[0] / 2;
    const h = await this.linear(x, `${name}.net.0.proj`);
    const [value, gate] = g.nodeN('Split', [h, g.int64([inner, inner])], 2, { axis: -1 });
    // gelu(z) = z·(1 + erf(z/√2))/2
    const erf = g.node('Erf', [g.node('Mul', [gate, g.float32([Math.SQRT1_2], [])])]);
    const gelu = g.node('Mul', [g.node('Mul', [gate, g.node('Add', [erf, g.float32([1], [])])]), g.float32([0.5], [])]);
    return this.linear(g.node('Mul', [value, gelu]), `${name}.net.2`);
  }
}

/** x·sigmoid(x). */
export function silu(g: OnnxGraphBuilder, x: string): string {
  return g.node('Mul', [x, g.node('Sigmoid', [x])]);
}

/**
 * Multi-head attention of `groups` independent sequences: q [groups·Lq, C] viewed as [groups, Lq, C] (any leading
 * shape with that many elements), k and v likewise [groups, Lk, C]; per (sequence, head), softmax(q·kᵀ/√D)·v with
 * D = C / heads. Returns the context as [groups, Lq, C].
 */
export function multiHeadAttention(g: OnnxGraphBuilder, q: string, k: string, v: string, s: { groups: number; lq: number; lk: number; channels: number; heads: number }): string {
  const { groups: G, lq, lk, channels: C, heads: H } = s;
  if (C % H !== 0) throw new RangeError(`onnx graph ${g.graphName}: ${C} channels do not split into ${H} heads`);
  const D = C / H;
  const heads = (t: string, L: number, perm: number[]) => g.node('Transpose', [g.node('Reshape', [t, g.int64([G, L, H, D])])], { perm });
  const qh = heads(q, lq, [0, 2, 1, 3]); // [G, H, Lq, D]
  const kT = heads(k, lk, [0, 2, 3, 1]); // [G, H, D, Lk]
  const vh = heads(v, lk, [0, 2, 1, 3]); // [G, H, Lk, D]
  const scores = g.node('Mul', [g.node('MatMul', [qh, kT]), g.float32([1 / Math.sqrt(D)], [])]);
  const ctx = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), vh]); // [G, H, Lq, D]
  return g.node('Reshape', [g.node('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.int64([G, lq, C])]);
}
