// Float64 CPU references for the GEMM kernels (matmul, linear, conv2d). Written independently of
// the kernels: plain loops over the mathematical definitions, PyTorch weight layouts.
import { type Activation, activateCpu } from '../../src/ops/activation';
import { f16BitsToF32, f32ToF16Bits } from '../../src/gpu/half';

/** Values as an f16 tensor would hold them (what the GPU actually multiplies in f16 mode). */
export function roundF16(a: Float32Array): Float32Array {
  return a.map((v) => f16BitsToF32(f32ToF16Bits(v)));
}

/** C[b] = A[b] · B[b] with A [batch, M, K]; B [bBatch, K, N], or [bBatch, N, K] when transB (bBatch 1 broadcasts). */
export function matmulRef(a: Float32Array, b: Float32Array, batch: number, M: number, K: number, N: number, transB: boolean, bBatch = batch): Float64Array {
  const out = new Float64Array(batch * M * N);
  for (let bi = 0; bi < batch; bi++) {
    const bOff = (bBatch === 1 ? 0 : bi) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[(bi * M + m) * K + k] * b[bOff + (transB ? n * K + k : k * N + n)];
        out[(bi * M + m) * N + n] = s;
      }
    }
  }
  return out;
}

export interface EpilogueRef {
  bias?: Float32Array;
  act?: Activation;
  /** table [P, N]; row r adds table[floor(r / rowsPerEntry) % P]. */
  rowBias?: { table: Float32Array; rowsPerEntry: number };
  residual?: Float32Array;
  /** Factor on act(...) before the residual (default 1). */
  scale?: number;
}

/** In place on acc [rows, N] (rows counted over all batches): scale·act(acc + bias + rowBias) + residual. */
export function epilogueRef(acc: Float64Array, N: number, ep: EpilogueRef): Float64Array {
  const rows = acc.length / N;
  const P = ep.rowBias ? ep.rowBias.table.length / N : 0;
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let v = acc[r * N + n];
      if (ep.bias) v += ep.bias[n];
      if (ep.rowBias) v += ep.rowBias.table[(Math.floor(r / ep.rowBias.rowsPerEntry) % P) * N + n];
      v = activateCpu(v, ep.act ?? 'none') * (ep.scale ?? 1);
      if (ep.residual) v += ep.residual[r * N + n];
      acc[r * N + n] = v;
    }
  }
  return acc;
}

/** y = act(x·Wᵀ + b + rowBias) + residual, x [rows, K], w [N, K] (PyTorch (out, in)). */
export function linearRef(x: Float32Array, w: Float32Array, rows: number, K: number, N: number, ep: EpilogueRef = {}): Float64Array {
  return epilogueRef(matmulRef(x, w, 1, rows, K, N, true), N, ep);
}

/**
 * Direct convolution: x NHWC [n, H, W, Cin], w PyTorch (Cout, Cin, KH, KW), symmetric zero padding.
 * Returns NHWC [n, Ho, Wo, Cout] after the epilogue (bias, act, residual).
 */
export function conv2dRef(
  x: Float32Array, w: Float32Array, n: number, H: number, W: number, Cin: number, Cout: number, KH: number, KW: number,
  stride: number, pad: number, ep: EpilogueRef = {},
): { out: Float64Array; Ho: number; Wo: number } {
  const Ho = Math.floor((H + 2 * pad - KH) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - KW) / stride) + 1;
  const out = new Float64Array(n * Ho * Wo * Cout);
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        for (let co = 0; co < Cout; co++) {
          let s = 0;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * stride + ky - pad;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * stride + kx - pad;
              if (ix < 0 || ix >= W) continue;
              for (let ci = 0; ci < Cin; ci++) {
                s += x[((i * H + iy) * W + ix) * Cin + ci] * w[((co * Cin + ci) * KH + ky) * KW + kx];
              }
            }
          }
          out[((i * Ho + oy) * Wo + ox) * Cout + co] = s;
        }
      }
    }
  }
  return { out: epilogueRef(out, Cout, ep), Ho, Wo };
}

/**
 * Tolerance for a GEMM output against the float64 reference (inputs: unit-variance random data, so
 * an output sums K products and has scale ~sqrt(K); an indexing bug moves outputs by that much).
 * - f32: 1e-4 · sqrt(K): f32 accumulation error is ~1e-7 · K, far below; any wrong index is far above.
 * - f16 (reference computed on f16-rounded inputs, GPU accumulates in f32): the result is rounded
 *   once to f16, |err| ≤ 2^-11 · |out| ≤ 2^-11 · refMax; allow 2^-10 · refMax + 1e-4 · sqrt(K).
 */
export function gemmTolerance(refMax: number, K: number, dtype: 'f32' | 'f16'): number {
  return dtype === 'f32' ? 1e-4 * Math.sqrt(K) * Math.max(1, refMax / Math.sqrt(K)) : 2 ** -10 * refMax + 1e-4 * Math.sqrt(K);
}
