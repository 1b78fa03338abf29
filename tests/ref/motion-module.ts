// Float64 CPU reference of the AnimateDiff motion module (diffusers AnimateDiffTransformer3D), written the way
// diffusers lays it out — sequences over frames per (sample, position), (B·P, F, C) — so it shares no indexing with
// the GPU code; plus diffusers' FreeNoiseTransformerBlock (models/attention.py:1556-1679, v0.39.0) written from
// (context length, stride, window weights) exactly as upstream loops, and the motion strength
// out = x + s·(module(x) − x).
import { activateCpu } from '../../src/ops/activation';
import { groupNormRef, layerNormRef } from './norms';

export interface MotionModuleRefDims {
  B: number; F: number; P: number; C: number; heads: number; groups: number;
  /** 1 = per-frame GroupNorm (official), F = pooled over the frames (diffusers). */
  framesPerGroup: number;
}

export interface FreeNoiseRef {
  length: number;
  stride: number;
  /** diffusers _get_frame_weights(length, scheme). */
  weights: number[];
}

/** y [rows, N] = x [rows, K] · Wᵀ (+ b), W [N, K]. */
function linearRef64(x: ArrayLike<number>, rows: number, K: number, w: ArrayLike<number>, N: number, b?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) for (let n = 0; n < N; n++) {
    let acc = b ? b[n] : 0;
    for (let k = 0; k < K; k++) acc += x[r * K + k] * w[n * K + k];
    y[r * N + n] = acc;
  }
  return y;
}

/** The sinusoid in float64: pe[p, 2i] = sin(p·10000^(−2i/C)), pe[p, 2i+1] = cos(…). */
function pe64(p: number, c: number, C: number): number {
  const i = Math.floor(c / 2);
  const a = p * Math.exp((2 * i * -Math.log(10000)) / C);
  return c % 2 === 0 ? Math.sin(a) : Math.cos(a);
}

/** One temporal self-attention sub-layer on sequences h [S, len, C]: h + to_out(attn(LN(h) + pe[0..len))). */
function attnSublayer(h: Float64Array, S: number, len: number, C: number, heads: number, w: (n: string) => Float32Array | undefined, pre: string, norm: string): Float64Array {
  const rows = S * len;
  const y = layerNormRef(h, C, w(`${norm}.weight`)!, w(`${norm}.bias`)!, 1e-5);
  for (let s = 0; s < S; s++) for (let f = 0; f < len; f++) for (let c = 0; c < C; c++) y[(s * len + f) * C + c] += pe64(f, c, C);
  const q = linearRef64(y, rows, C, w(`${pre}.to_q.weight`)!, C, w(`${pre}.to_q.bias`));
  const k = linearRef64(y, rows, C, w(`${pre}.to_k.weight`)!, C, w(`${pre}.to_k.bias`));
  const v = linearRef64(y, rows, C, w(`${pre}.to_v.weight`)!, C, w(`${pre}.to_v.bias`));
  const D = C / heads;
  const a = new Float64Array(rows * C);
  const sc = new Float64Array(len);
  for (let s = 0; s < S; s++) for (let hd = 0; hd < heads; hd++) for (let i = 0; i < len; i++) {
    let m = -Infinity;
    for (let j = 0; j < len; j++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[(s * len + i) * C + hd * D + d] * k[(s * len + j) * C + hd * D + d];
      sc[j] = dot / Math.sqrt(D);
      m = Math.max(m, sc[j]);
    }
    let l = 0;
    for (let j = 0; j < len; j++) { sc[j] = Math.exp(sc[j] - m); l += sc[j]; }
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let j = 0; j < len; j++) acc += sc[j] * v[(s * len + j) * C + hd * D + d];
      a[(s * len + i) * C + hd * D + d] = acc / l;
    }
  }
  const o = linearRef64(a, rows, C, w(`${pre}.to_out.0.weight`)!, C, w(`${pre}.to_out.0.bias`));
  for (let i = 0; i < o.length; i++) o[i] += h[i];
  return o;
}

/** GEGLU feed-forward with residual: h + net.2(value · gelu(gate)), [value | gate] = net.0.proj(LN3(h)). */
function feedForwardRef(h: Float64Array, rows: number, C: number, w: (n: string) => Float32Array | undefined, pre: string): Float64Array {
  const y = layerNormRef(h, C, w(`${pre}.norm3.weight`)!, w(`${pre}.norm3.bias`)!, 1e-5);
  const I2 = w(`${pre}.ff.net.0.proj.weight`)!.length / C, I = I2 / 2;
  const p = linearRef64(y, rows, C, w(`${pre}.ff.net.0.proj.weight`)!, I2, w(`${pre}.ff.net.0.proj.bias`));
  const g = new Float64Array(rows * I);
  for (let r = 0; r < rows; r++) for (let i = 0; i < I; i++) g[r * I + i] = p[r * I2 + i] * activateCpu(p[r * I2 + I + i], 'gelu');
  const o = linearRef64(g, rows, I, w(`${pre}.ff.net.2.weight`)!, C, w(`${pre}.ff.net.2.bias`));
  for (let i = 0; i < o.length; i++) o[i] += h[i];
  return o;
}

/** Frames [s, e) of sequences h [S, F, C]. */
function sliceFrames(h: Float64Array, S: number, F: number, C: number, s: number, e: number): Float64Array {
  const out = new Float64Array(S * (e - s) * C);
  for (let q = 0; q < S; q++) out.set(h.subarray((q * F + s) * C, (q * F + e) * C), q * (e - s) * C);
  return out;
}

/** diffusers FreeNoiseTransformerBlock's window loop up to the blend (input of norm3), in float64. */
function freeNoiseBlendRef(h: Float64Array, S: number, F: number, C: number, heads: number, w: (n: string) => Float32Array | undefined, pre: string, fn: FreeNoiseRef, hasAttn2: boolean): Float64Array {
  const L = fn.length;
  const idx: [number, number][] = [];
  for (let i = 0; i <= F - L; i += fn.stride) idx.push([i, Math.min(F, i + L)]);
  const complete = idx[idx.length - 1][1] === F;
  let lastLen = 0;
  if (!complete) {
    lastLen = F - idx[idx.length - 1][1];
    idx.push([F - L, F]);
  }
  const n = new Float64Array(F);
  const acc = new Float64Array(S * F * C);
  for (const [wi, [s, e]] of idx.entries()) {
    let c = sliceFrames(h, S, F, C, s, e);
    c = attnSublayer(c, S, L, C, heads, w, `${pre}.attn1`, `${pre}.norm1`);
    if (hasAttn2) c = attnSublayer(c, S, L, C, heads, w, `${pre}.attn2`, `${pre}.norm2`);
    const tail = wi === idx.length - 1 && !complete;
    const j0 = tail ? L - lastLen : 0;
    for (let j = j0; j < L; j++) {
      for (let q = 0; q < S; q++) for (let ch = 0; ch < C; ch++) acc[(q * F + s + j) * C + ch] += c[(q * L + j) * C + ch] * fn.weights[j];
      n[s + j] += tail ? fn.weights[L - lastLen] : fn.weights[j]; // upstream: weights[:, -m] (one scalar) for the tail
    }
  }
  for (let q = 0; q < S; q++) for (let f = 0; f < F; f++) for (let ch = 0; ch < C; ch++) {
    if (n[f] > 0) acc[(q * F + f) * C + ch] /= n[f];
  }
  return acc;
}

/**
 * x NHWC [B*F, P, C] (row (b*F + f)*P + p) → the motion module output, same layout, float64.
 * `w(name)`: canonical weights (norm, proj_in, transformer_blocks.N.*, proj_out).
 */
export function motionModuleRef(
  x: Float32Array, d: MotionModuleRefDims, w: (n: string) => Float32Array | undefined,
  opts: { freeNoise?: FreeNoiseRef; strength?: number } = {},
): Float64Array {
  const { B, F, P, C, heads, groups } = d;
  const rows = B * F * P;
  const gn = groupNormRef(x, B * F, C, w('norm.weight')!, w('norm.bias')!, groups, 1e-6, d.framesPerGroup);
  const t = linearRef64(gn, rows, C, w('proj_in.weight')!, C, w('proj_in.bias'));
  // (b·F + f)·P + p → sequences (b·P + p, f)
  const S = B * P;
  let h: Float64Array = new Float64Array(rows * C);
  for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) for (let p = 0; p < P; p++) {
    h.set(t.subarray(((b * F + f) * P + p) * C, ((b * F + f) * P + p + 1) * C), ((b * P + p) * F + f) * C);
  }
  for (let i = 0; w(`transformer_blocks.${i}.norm1.weight`); i++) {
    const pre = `transformer_blocks.${i}`;
    const hasAttn2 = w(`${pre}.attn2.to_q.weight`) !== undefined;
    if (opts.freeNoise) {
      h = freeNoiseBlendRef(h, S, F, C, heads, w, pre, opts.freeNoise, hasAttn2);
    } else {
      h = attnSublayer(h, S, F, C, heads, w, `${pre}.attn1`, `${pre}.norm1`);
      if (hasAttn2) h = attnSublayer(h, S, F, C, heads, w, `${pre}.attn2`, `${pre}.norm2`);
    }
    h = feedForwardRef(h, S * F, C, w, pre);
  }
  const back = new Float64Array(rows * C);
  for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) for (let p = 0; p < P; p++) {
    back.set(h.subarray(((b * P + p) * F + f) * C, ((b * P + p) * F + f + 1) * C), ((b * F + f) * P + p) * C);
  }
  const o = linearRef64(back, rows, C, w('proj_out.weight')!, C, w('proj_out.bias'));
  const s = opts.strength ?? 1;
  const out = new Float64Array(rows * C);
  for (let i = 0; i < out.length; i++) out[i] = x[i] + s * ((o[i] + x[i]) - x[i]);
  return out;
}
