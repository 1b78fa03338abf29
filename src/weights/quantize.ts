// Weight-only quantization of GEMM weights on the CPU, and the serializable form it produces (what a model cache
// stores and uploads again without re-quantizing).
//
// A weight is a row-major matrix [N, K]: a linear layer's (out, in), or a conv's (Cout, KH·KW·Cin) after the
// OHWI permutation (src/ops/weights.ts), so K is the GEMM's reduction dimension and each row one output channel.
//
//   int8: symmetric, one scale per output channel:  s_n = max_k |w[n,k]| / 127,  q = round(w / s_n) ∈ [-127, 127].
//         Stored 4 per u32 word along K (byte j of word i = q[n, 4i + j], two's complement); scales f32 [N].
//   int4: symmetric, one scale per group of QUANT_GROUP = 32 consecutive k of a row:
//         s_{n,g} = max_{k∈g} |w[n,k]| / 7,  q = round(w / s) ∈ [-7, 7], stored as q + 8 in a nibble, 8 per word
//         (nibble j of word i = q[n, 8i + j] + 8); scales as f16, two per u32 (low half = even group).
// Rows are padded with zeros to whole words (and whole scale words), so a row starts on a word boundary and a
// reader never needs the K tail mask of the packed data. Dequantized: w ≈ q · s.
//
// Why 32 for int4: it is the GEMM core's K step (shaders/matmul.wgsl, TK = 32), so the B loader's cursor reads
// exactly one scale per step; every K of SD1.5's linear and conv layers (320·m, 9·320·m, 768, 5120) is a multiple
// of it; and with f16 scales it costs 4.5 bits per weight, the layout ggml's Q4_0 uses (stable-diffusion.cpp runs
// SD1.x at q4_0). Larger groups (64, 128) save 0.25–0.4 bit per weight but a group's largest weight sets the step
// for more values: on N(0,1) weights the expected max of 32 values is ≈ 2.1σ, of 128 ≈ 2.6σ, so the rounding error
// grows by ≈ 25 % at 128 for a 6 % smaller model.
import { f16BitsToF32, f32ToF16Bits } from '../gpu/half';

export type QuantFormat = 'int8' | 'int4';

/** int4 group size along K (see the file comment for why 32). */
export const QUANT_GROUP = 32;

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
    for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(v[off + i]));
    if (!Number.isFinite(max)) throw new RangeError(`quantize: row ${r} holds a non-finite value`);
    const s = Math.fround(max / 127);
    scales[r] = s;
    if (s === 0) continue;
    const inv = 1 / s;
    // Little-endian words: byte j of word i is byte 4i + j of the buffer (every WebGPU platform is little-endian).
    const base = r * wpr * 4;
    for (let i = 0; i < k; i++) bytes[base + i] = Math.max(-127, Math.min(127, Math.round(v[off + i] * inv)));
  }
  return { format: 'int8', shape: [...shape], groupSize: k, words, scales };
}

function quantizeInt4(v: Float32Array, n: number, k: number, shape: readonly number[]): QuantizedHostTensor {
  const wpr = wordsPerRow('int4', k);
  const spr = 2 * scaleWordsPerRow('int4', k);
  const groups = Math.ceil(k / QUANT_GROUP);
  const words = new Uint32Array(n * wpr);
  const scales = new Uint16Array(n * spr);
  for (let r = 0; r < n; r++) {
    const off = r * k;
    for (let g = 0; g < groups; g++) {
      const k0 = g * QUANT_GROUP, k1 = Math.min(k, k0 + QUANT_GROUP);
      let max = 0;
      for (let i = k0; i < k1; i++) max = Math.max(max, Math.abs(v[off + i]));
      if (!Number.isFinite(max)) throw new RangeError(`quantize: row ${r} holds a non-finite value`);
      // The scale is stored as f16; quantize against the rounded scale so q · s reproduces what the GPU computes.
      let bits = f32ToF16Bits(max / 7);
      let s = f16BitsToF32(bits);
      if (s * 7 < max * (1 - 1e-3)) { bits++; s = f16BitsToF32(bits); } // rounded down far enough to clip: next f16 up
      if (!Number.isFinite(s)) throw new RangeError(`quantize: row ${r} has weights beyond the f16 range of an int4 scale`);
      scales[r * spr + g] = bits;
      const inv = s === 0 ? 0 : 1 / s;
      for (let i = k0; i < k1; i++) {
        const q = Math.max(-7, Math.min(7, Math.round(v[off + i] * inv))) + 8;
        words[r * wpr + (i >>> 3)] |= q << ((i & 7) * 4);
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
