// Weight-only quantization of GEMM weights on the CPU, and the serializable form it produces (what a model cache
// stores and uploads again without re-quantizing).
//
// A weight is a row-major matrix [N, K]: a linear layer's (out, in), or a conv's (Cout, KH·KW·Cin) after the
// OHWI permutation (src/ops/weights.ts), so K is the GEMM's reduction dimension and each row one output channel.
//
//   int8: symmetric, one scale per output channel:  s_n = max_k |w[n,k]| / 127,  q = round(w / s_n) ∈ [-127, 127].
//         Stored 4 per u32 word along K (byte j of word i = q[n, 4i + j], two's complement); scales f32 [N].
//   int4: one scale per group of QUANT_GROUP = 16 consecutive k of a row, 16 levels q ∈ [-8, 7]: w ≈ q · s.
//         q + 8 in a nibble, 8 per word (nibble j of word i = q[n, 8i + j] + 8); scales as f16, two per u32
//         (low half = even group). The scale is searched per group (below); a scale may be negative.
// Rows are padded with zeros to whole words (and whole scale words), so a row starts on a word boundary and a
// reader never needs the K tail mask of the packed data. Dequantized: w ≈ q · s.
//
// int4's scale (as ggml's Q4_0 and k-quants do it): start from s₀ = −(the group's signed max)/8, which puts the
// largest weight exactly on level −8 and so uses all 16 levels; for s₀·{0.9, 1, 1.1} take each trial's nearest
// levels q and their least-squares scale Σ w·q / Σ q² (which leaves an error of Σ w² − (Σ w·q)² / Σ q²), and keep
// the trial that leaves the least. On N(0,1) weights in groups of 32 this lifts the weight SNR from 20.3 dB
// (s = max|w|/7, 15 levels, the first version) to 21.8 dB; groups of 16 give 23.0 dB.
//
// Why groups of 16: on the tiny oracle pipeline the decoded frames went from 18.6 dB PSNR (groups of 32, max/7) to
// 19.2 dB (groups of 32, searched) and 21.2 dB (groups of 16, searched) against f32 weights (docs/weights.md). A
// group of 16 costs 5 bits per weight instead of 4.5 (SD1.5 + v2 int4 at 512², 16 frames: planned peak 1.92 GiB
// instead of 1.84, under the 2 GiB aim). It divides the GEMM core's K step (TK = 32) and every K of SD1.5 (320·m,
// 9·320·m, 768, 5120); the B loader reads one scale per k-quad either way. An asymmetric form (scale + minimum per
// group) would cost the same 5 bits at groups of 32 for 0.9 dB less weight SNR on Gaussian weights.
import { f16BitsToF32, f32ToF16Bits } from '../gpu/half';

export type QuantFormat = 'int8' | 'int4';

/** int4 group size along K (see the file comment for why 16). */
export const QUANT_GROUP = 16;

/** A quantized weight matrix on the CPU: plain typed arrays and numbers, so it can be stored and uploaded as is. */
export interface QuantizedHostTensor {
  readonly format: QuantFormat;
  /** Logical shape [N, ...rest]; K = product of rest (linear [N, K], prepared conv [Cout, KH, KW, Cin]). */
  readonly shape: readonly number[];
  /** Values per scale along K: K for int8 (one scale per row), QUANT_GROUP for int4. */
  readonly groupSize: number;
  /** N × wordsPerRow(format, K) packed values. */
  readonly words: Uint32Array;
  /** int8: f32 [N]; int4: f16 bits, N × 2·scaleWordsPerRow (groups padded to an even count per row). */
  readonly scales: Float32Array | Uint16Array;
}

export function wordsPerRow(format: QuantFormat, k: number): number {
  return format === 'int8' ? Math.ceil(k / 4) : Math.ceil(k / 8);
}

/** u32 words of scales per row: int8 one f32 scale, int4 ceil(groups / 2) f16 pairs. */
export function scaleWordsPerRow(format: QuantFormat, k: number): number {
  return format === 'int8' ? 1 : Math.ceil(Math.ceil(k / QUANT_GROUP) / 2);
}

/** Bytes a quantized [N, K] weight takes on the GPU (packed values + scales). */
export function quantizedBytes(format: QuantFormat, n: number, k: number): number {
  return n * (wordsPerRow(format, k) + scaleWordsPerRow(format, k)) * 4;
}

/** Row-major [N, K] f32 values → the quantized form. `shape`'s first dim is N, the rest multiply to K. */
export function quantize(format: QuantFormat, values: Float32Array, shape: readonly number[]): QuantizedHostTensor {
  const n = shape[0];
  const k = shape.slice(1).reduce((a, b) => a * b, 1);
  if (!(n > 0 && k > 0) || values.length !== n * k) throw new RangeError(`quantize: ${values.length} values for shape [${shape.join(', ')}]`);
  return format === 'int8' ? quantizeInt8(values, n, k, shape) : quantizeInt4(values, n, k, shape);
}

function quantizeInt8(v: Float32Array, n: number, k: number, shape: readonly number[]): QuantizedHostTensor {
  const wpr = wordsPerRow('int8', k);
  const words = new Uint32Array(n * wpr);
  const bytes = new Int8Array(words.buffer);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    const off = r * k;
    let max = 0;
    for (let i = off; i < off + k; i++) {
      const a = Math.abs(v[i]);
      if (!(a <= max)) {
        if (!(a < Infinity)) throw new RangeError(`quantize: row ${r} holds a non-finite value`); // NaN or ±Inf
        max = a;
      }
    }
    const s = Math.fround(max / 127);
    scales[r] = s;
    if (s === 0) continue;
    const inv = 1 / s;
    // Little-endian words: byte j of word i is byte 4i + j of the buffer (every WebGPU platform is little-endian).
    // q = floor(w / s + 127.5) − 127 clamped to [−127, 127]: round half up, as Math.round, without its call.
    const base = r * wpr * 4;
    for (let i = 0; i < k; i++) {
      let q = (v[off + i] * inv + 127.5) | 0;
      q = q < 0 ? 0 : q > 254 ? 254 : q;
      bytes[base + i] = q - 127;
    }
  }
  return { format: 'int8', shape: [...shape], groupSize: k, words, scales };
}

/**
 * Trial scales of an int4 group, as multiples of s₀ = −(signed max)/8 (the largest weight exactly on level −8). Each
 * trial's levels get their least-squares scale; the best of the three is kept (file comment). More trials or finer
 * steps gain < 0.1 dB of weight SNR on Gaussian weights and cost a pass over the group each.
 */
const INT4_TRIALS = [0.9, 1, 1.1] as const;

function quantizeInt4(v: Float32Array, n: number, k: number, shape: readonly number[]): QuantizedHostTensor {
  const wpr = wordsPerRow('int4', k);
  const spr = 2 * scaleWordsPerRow('int4', k);
  const groups = Math.ceil(k / QUANT_GROUP);
  const words = new Uint32Array(n * wpr);
  const scales = new Uint16Array(n * spr);
  const [c0, c1, c2] = INT4_TRIALS;
  for (let r = 0; r < n; r++) {
    const off = r * k;
    for (let g = 0; g < groups; g++) {
      const k0 = off + g * QUANT_GROUP, k1 = off + Math.min(k, (g + 1) * QUANT_GROUP);
      // The value of largest magnitude, with its sign.
      let max = 0, signedMax = 0;
      for (let i = k0; i < k1; i++) {
        const a = Math.abs(v[i]);
        if (!(a <= max)) {
          if (!(a < Infinity)) throw new RangeError(`quantize: row ${r} holds a non-finite value`); // NaN or ±Inf
          max = a; signedMax = v[i];
        }
      }
      let bits = 0;
      if (max > 0) {
        // For levels q fixed by a trial scale, the best scale is Σ w·q / Σ q², leaving an error of
        // Σ w² − (Σ w·q)² / Σ q²: keep the trial whose levels explain the most, with its refitted scale.
        // Levels as nibbles: q + 8 = floor(w / s + 8.5) clamped to [0, 15] (round half up, as Math.round).
        const i0 = -8 / (signedMax * c0), i1 = -8 / (signedMax * c1), i2 = -8 / (signedMax * c2);
        let wq0 = 0, qq0 = 0, wq1 = 0, qq1 = 0, wq2 = 0, qq2 = 0;
        for (let i = k0; i < k1; i++) {
          const x = v[i];
          let q0 = (x * i0 + 8.5) | 0, q1 = (x * i1 + 8.5) | 0, q2 = (x * i2 + 8.5) | 0;
          q0 = (q0 < 0 ? 0 : q0 > 15 ? 15 : q0) - 8;
          q1 = (q1 < 0 ? 0 : q1 > 15 ? 15 : q1) - 8;
          q2 = (q2 < 0 ? 0 : q2 > 15 ? 15 : q2) - 8;
          wq0 += x * q0; qq0 += q0 * q0; wq1 += x * q1; qq1 += q1 * q1; wq2 += x * q2; qq2 += q2 * q2;
        }
        const e0 = (wq0 * wq0) / qq0, e1 = (wq1 * wq1) / qq1, e2 = (wq2 * wq2) / qq2;
        const scale = e0 >= e1 && e0 >= e2 ? wq0 / qq0 : e1 >= e2 ? wq1 / qq1 : wq2 / qq2;
        bits = f32ToF16Bits(scale);
        if (!Number.isFinite(f16BitsToF32(bits))) throw new RangeError(`quantize: row ${r} has weights beyond the f16 range of an int4 scale`);
      }
      scales[r * spr + g] = bits;
      // Levels for the stored (f16-rounded) scale: the nearest one in [-8, 7], so q · s is what the GPU computes.
      const s = f16BitsToF32(bits);
      const inv = s === 0 ? 0 : 1 / s;
      const base = r * wpr;
      for (let i = k0 - off; i < k1 - off; i++) {
        let q = (v[off + i] * inv + 8.5) | 0;
        q = q < 0 ? 0 : q > 15 ? 15 : q;
        words[base + (i >>> 3)] |= q << ((i & 7) * 4);
      }
    }
    // Padding nibbles beyond K dequantize to 0: store them as 8 (q = 0).
    for (let i = k; i < wpr * 8; i++) words[r * wpr + (i >>> 3)] |= 8 << ((i & 7) * 4);
  }
  return { format: 'int4', shape: [...shape], groupSize: QUANT_GROUP, words, scales };
}

/** The values a quantized tensor stands for (f64; the reference for kernel tests and error reports). */
export function dequantize(q: QuantizedHostTensor): Float64Array {
  const n = q.shape[0];
  const k = q.shape.slice(1).reduce((a, b) => a * b, 1);
  const wpr = wordsPerRow(q.format, k);
  const out = new Float64Array(n * k);
  if (q.format === 'int8') {
    const bytes = new Int8Array(q.words.buffer, q.words.byteOffset, q.words.byteLength);
    for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) out[r * k + i] = bytes[r * wpr * 4 + i] * (q.scales as Float32Array)[r];
  } else {
    const spr = 2 * scaleWordsPerRow('int4', k);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < k; i++) {
        const nib = (q.words[r * wpr + (i >>> 3)] >>> ((i & 7) * 4)) & 15;
        out[r * k + i] = (nib - 8) * f16BitsToF32((q.scales as Uint16Array)[r * spr + Math.floor(i / QUANT_GROUP)]);
      }
    }
  }
  return out;
}

/** Rows [r0, r1) of a quantized tensor (views, no copy): the row parts of a weight over the binding limit. */
export function quantizedRows(q: QuantizedHostTensor, r0: number, r1: number): QuantizedHostTensor {
  const k = q.shape.slice(1).reduce((a, b) => a * b, 1);
  const wpr = wordsPerRow(q.format, k);
  const spr = q.format === 'int8' ? 1 : 2 * scaleWordsPerRow('int4', k);
  return {
    format: q.format, shape: [r1 - r0, ...q.shape.slice(1)], groupSize: q.groupSize,
    words: q.words.subarray(r0 * wpr, r1 * wpr),
    scales: q.scales.subarray(r0 * spr, r1 * spr),
  };
}
