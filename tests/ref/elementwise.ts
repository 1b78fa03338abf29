// Float64 CPU references for the elementwise, layout and timestep-embedding ops (plain loops, no shared code
// with the kernels beyond the activation twins in src/ops/activation.ts).
import { type Activation, activateCpu } from '../../src/ops/activation';

export const activationRef = (x: ArrayLike<number>, act: Activation, s = 1): Float64Array =>
  Float64Array.from(x, (v) => activateCpu(s * v, act));

export const axpbyRef = (a: number, x: ArrayLike<number>, b: number, y: ArrayLike<number>): Float64Array =>
  Float64Array.from(x, (v, i) => a * v + b * y[i]);

/** diffusers GEGLU: x [rows, 2D]; value = first half, gate = second half; out = value · gelu_erf(gate). */
export function gegluRef(x: ArrayLike<number>, rows: number, D: number): Float64Array {
  const out = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < D; d++) out[r * D + d] = x[r * 2 * D + d] * activateCpu(x[r * 2 * D + D + d], 'gelu');
  }
  return out;
}

/** NHWC nearest 2x upsampling. */
export function upsampleRef(x: ArrayLike<number>, N: number, H: number, W: number, C: number): Float64Array {
  const out = new Float64Array(N * 4 * H * W * C);
  let o = 0;
  for (let n = 0; n < N; n++) for (let y = 0; y < 2 * H; y++) for (let xx = 0; xx < 2 * W; xx++) for (let c = 0; c < C; c++) {
    out[o++] = x[((n * H + Math.floor(y / 2)) * W + Math.floor(xx / 2)) * C + c];
  }
  return out;
}

/**
 * NHWC nearest upsampling to (Ho, Wo) as PyTorch's upsample_nearest2d with an explicit size: source index
 * floor(o · in/out), the scale rounded to float32, clamped to in − 1 (o/2 exactly when out = 2·in).
 */
export function upsampleToRef(x: ArrayLike<number>, N: number, H: number, W: number, C: number, Ho: number, Wo: number): Float64Array {
  const src = (o: number, i: number, out: number) => (out === 2 * i ? Math.floor(o / 2) : Math.min(Math.floor(Math.fround(o * Math.fround(i / out))), i - 1));
  const out = new Float64Array(N * Ho * Wo * C);
  let o = 0;
  for (let n = 0; n < N; n++) for (let y = 0; y < Ho; y++) for (let xx = 0; xx < Wo; xx++) for (let c = 0; c < C; c++) {
    out[o++] = x[((n * H + src(y, H, Ho)) * W + src(xx, W, Wo)) * C + c];
  }
  return out;
}

/** Channel concat of row-major [R, Ca] and [R, Cb], a first. */
export function concatRef(a: ArrayLike<number>, b: ArrayLike<number>, R: number, Ca: number, Cb: number): Float64Array {
  const out = new Float64Array(R * (Ca + Cb));
  let o = 0;
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < Ca; c++) out[o++] = a[r * Ca + c];
    for (let c = 0; c < Cb; c++) out[o++] = b[r * Cb + c];
  }
  return out;
}

/** NCHW -> NHWC by explicit loops. */
export function nchwToNhwcRef(x: ArrayLike<number>, N: number, C: number, H: number, W: number): Float64Array {
  const out = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) {
    out[((n * H + y) * W + xx) * C + c] = x[((n * C + c) * H + y) * W + xx];
  }
  return out;
}

/** (b, c, f, h, w) -> [b*f, h, w, c] with row n = b*F + f, by explicit loops. */
export function videoToFramesRef(x: ArrayLike<number>, B: number, C: number, F: number, H: number, W: number): Float64Array {
  const out = new Float64Array(B * C * F * H * W);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) {
    out[(((b * F + f) * H + y) * W + xx) * C + c] = x[(((b * C + c) * F + f) * H + y) * W + xx];
  }
  return out;
}

/** diffusers get_timestep_embedding in float64 (the exact formula). */
export function timestepEmbeddingRef(ts: number[], dim: number, flipSinToCos: boolean, shift: number, maxPeriod = 10000): Float64Array {
  const half = Math.floor(dim / 2), out = new Float64Array(ts.length * dim);
  ts.forEach((t, b) => {
    for (let i = 0; i < half; i++) {
      const arg = t * Math.exp((-Math.log(maxPeriod) * i) / (half - shift));
      const [first, second] = flipSinToCos ? [Math.cos(arg), Math.sin(arg)] : [Math.sin(arg), Math.cos(arg)];
      out[b * dim + i] = first;
      out[b * dim + half + i] = second;
    }
  });
  return out;
}
