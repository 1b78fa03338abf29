// Weight preparation for the GEMM ops: upload once at load time, in the engine's dtype (or quantized) and the
// layouts the kernels want (see docs/design.md, "Weights are prepared once").
import type { Engine } from '../gpu/engine';
import { bytesPerElement, fmtShape, numel, type Tensor } from '../gpu/tensor';
import { QUANT_GROUP, quantize, quantizedRows, type QuantFormat, type QuantizedHostTensor, scaleWordsPerRow, wordsPerRow } from '../weights/quantize';
import { hostF32, hostToF32, type HostTensor } from '../weights/weight-map';

/** How a GEMM weight is stored on the GPU: in the engine's float dtype, or weight-only quantized. */
export type WeightFormat = 'float' | QuantFormat;

/**
 * A quantized weight matrix on the GPU (src/weights/quantize.ts has the packing): `words` holds the packed values
 * (N × wordsPerRow u32), `scales` the scales (int8: f32 [N]; int4: f16 pairs). The GEMM's quantized B loaders
 * (shaders/matmul_b_q8.wgsl, matmul_b_q4.wgsl) dequantize while loading. Owns two pool buffers unless it is a view.
 */
export class QuantizedTensor {
  private released = false;
  constructor(
    readonly engine: Engine,
    readonly format: QuantFormat,
    /** Logical shape [N, ...]; K = product of the rest. */
    readonly shape: readonly number[],
    readonly words: GPUBuffer,
    readonly scales: GPUBuffer,
    private readonly owned = true,
  ) {}

  get k(): number {
    return numel(this.shape.slice(1));
  }

  /** Bytes of the packed values and of the scales actually used (the buffers may be a larger pool bucket). */
  get byteLength(): number {
    return this.wordsBytes + this.scalesBytes;
  }

  get wordsBytes(): number {
    return this.shape[0] * wordsPerRow(this.format, this.k) * 4;
  }

  get scalesBytes(): number {
    return this.shape[0] * scaleWordsPerRow(this.format, this.k) * 4;
  }

  /** Same data, another shape with the same N and K (a 1×1 conv seen as a linear layer). */
  reshape(shape: readonly number[]): QuantizedTensor {
    if (shape[0] !== this.shape[0] || numel(shape.slice(1)) !== this.k) throw new RangeError(`cannot reshape quantized ${fmtShape(this.shape)} to ${fmtShape(shape)}`);
    return new QuantizedTensor(this.engine, this.format, shape, this.words, this.scales, false);
  }

  release(): void {
    if (!this.owned) return;
    if (this.released) throw new Error(`use of released quantized ${fmtShape(this.shape)}`);
    this.released = true;
    this.engine.pool.release(this.words);
    this.engine.pool.release(this.scales);
  }

  toString(): string {
    return `Quantized<${this.format}>${fmtShape(this.shape)}`;
  }
}

/** One row part of a GEMM weight: a float tensor in the compute dtype, or a quantized matrix. */
export type WeightTensor = Tensor | QuantizedTensor;

/**
 * A linear layer's parameters. `weight` is PyTorch's (out, in) = [N, K], row-major, kept as is
 * (y = x·Wᵀ + b). A weight over the binding limit is split along N into row parts [N_i, K], in
 * order; `linear` dispatches once per part into that part's column range of the output.
 */
export interface LinearWeight {
  weight: WeightTensor | readonly WeightTensor[];
  /** [N] */
  bias?: Tensor;
}

/**
 * A 2D convolution's parameters: weight [Cout, KH, KW, Cin] (permuted from PyTorch's
 * (Cout, Cin, KH, KW) so the implicit-GEMM reduction runs over Cin fastest), split along Cout into
 * parts like a LinearWeight when over the binding limit; bias [Cout].
 */
export interface Conv2dWeight {
  weight: WeightTensor | readonly WeightTensor[];
  bias?: Tensor;
}

/** The weight's row parts, in order along the output dimension (one part when unsplit). */
export function weightParts(w: LinearWeight | Conv2dWeight): readonly WeightTensor[] {
  const parts = Array.isArray(w.weight) ? (w.weight as readonly WeightTensor[]) : [w.weight as WeightTensor];
  if (parts.length === 0) throw new RangeError('weight has no parts');
  return parts;
}

/** The parts of an unquantized weight (for ops that only read float weights, e.g. the naive baselines). */
export function floatParts(w: LinearWeight | Conv2dWeight, op: string): readonly Tensor[] {
  const parts = weightParts(w);
  if (parts.some((p) => p instanceof QuantizedTensor)) throw new TypeError(`${op}: quantized weights are not supported`);
  return parts as readonly Tensor[];
}

/** Upload a quantized matrix (e.g. from a model cache) as one QuantizedTensor, or row parts over `maxPartBytes`. */
export function uploadQuantized(e: Engine, q: QuantizedHostTensor, maxPartBytes: number = e.maxBindingBytes, what = 'weight'): QuantizedTensor[] {
  const n = q.shape[0];
  const k = numel(q.shape.slice(1));
  const rowBytes = wordsPerRow(q.format, k) * 4;
  const rowsPerPart = Math.floor(maxPartBytes / rowBytes);
  if (rowsPerPart < 1) throw new RangeError(`${what}: one ${q.format} row of ${fmtShape(q.shape)} is ${rowBytes} bytes, over the ${maxPartBytes}-byte binding limit`);
  const parts: QuantizedTensor[] = [];
  for (let r = 0; r < n; r += rowsPerPart) {
    const part = quantizedRows(q, r, Math.min(n, r + rowsPerPart));
    // Exact-size buffers, like every weight upload (a pool bucket would waste up to half of a long-lived weight).
    const words = e.pool.acquire(part.words.byteLength, `${what}.${q.format}`, 'exact');
    const scales = e.pool.acquire(part.scales.byteLength, `${what}.scales`, 'exact');
    e.writeBytes(words, part.words);
    e.writeBytes(scales, part.scales);
    parts.push(new QuantizedTensor(e, q.format, part.shape, words, scales));
  }
  return parts;
}

/**
 * A linear or conv layer whose weight is quantized already (e.g. read back from the model cache): `q` in the GEMM
 * layout ([N, K] linear, [Cout, KH, KW, Cin] conv), uploaded as is (row parts over `maxPartBytes`), bias [N].
 */
export function prepareQuantized(e: Engine, q: QuantizedHostTensor, bias?: HostValues, maxPartBytes: number = e.maxBindingBytes, what = 'weight'): LinearWeight & Conv2dWeight {
  const parts = uploadQuantized(e, q, maxPartBytes, what);
  return { weight: parts.length === 1 ? parts[0] : parts, bias: uploadBias(e, what, bias, q.shape[0]) };
}

/** The stored weight of a prepared layer: float in the engine dtype, or quantized (f32 values quantized on the CPU). */
function uploadWeight(e: Engine, data: Float32Array | Uint16Array, shape: readonly number[], format: WeightFormat, maxPartBytes: number, what: string): WeightTensor | WeightTensor[] {
  if (format === 'float') return uploadRowParts(e, data, shape, maxPartBytes, what);
  if (e.simulated) {
    // The memory planner's engine uploads nothing: allocate the packed sizes without quantizing (zeros anyway).
    const n = shape[0], k = numel(shape.slice(1));
    const empty: QuantizedHostTensor = {
      format, shape: [...shape], groupSize: format === 'int8' ? k : QUANT_GROUP,
      words: new Uint32Array(n * wordsPerRow(format, k)),
      scales: format === 'int8' ? new Float32Array(n) : new Uint16Array(2 * n * scaleWordsPerRow(format, k)),
    };
    const parts = uploadQuantized(e, empty, maxPartBytes, what);
    return parts.length === 1 ? parts[0] : parts;
  }
  const values = data instanceof Float32Array ? data : hostToF32({ dtype: 'f16', shape, data });
  const parts = uploadQuantized(e, quantize(format, values, shape), maxPartBytes, what);
  return parts.length === 1 ? parts[0] : parts;
}

/** Total output features (sum of the parts' leading dims). */
export function outFeatures(w: LinearWeight | Conv2dWeight): number {
  return weightParts(w).reduce((s, t) => s + t.shape[0], 0);
}

/** Give a prepared weight's tensors back to the pool. */
export function releaseWeight(w: LinearWeight | Conv2dWeight): void {
  for (const t of weightParts(w)) t.release();
  w.bias?.release();
}

/** Weight values as the loaders give them: a host tensor in its stored precision, or plain f32 values. */
export type HostValues = HostTensor | Float32Array;

const asHost = (v: HostValues, shape: readonly number[]): HostTensor => (v instanceof Float32Array ? hostF32(v, shape) : v);

/**
 * Upload a row-major [rows, ...rest] host array (f32 values or f16 bits; the engine converts to its dtype, one
 * part at a time) as one tensor, or as consecutive row parts when one tensor would exceed `maxPartBytes` (each
 * part holds as many whole rows as fit).
 */
function uploadRowParts(e: Engine, data: Float32Array | Uint16Array, shape: readonly number[], maxPartBytes: number, what: string): Tensor | Tensor[] {
  const rows = shape[0];
  const rowElems = data.length / rows;
  const rowBytes = rowElems * bytesPerElement(e.dtype);
  const rowsPerPart = Math.floor(maxPartBytes / rowBytes);
  if (rowsPerPart < 1) {
    throw new RangeError(`${what}: one row of ${fmtShape(shape)} is ${rowBytes} bytes, over the ${maxPartBytes}-byte binding limit`);
  }
  if (rowsPerPart >= rows) return e.upload(data, shape, e.dtype, what);
  const parts: Tensor[] = [];
  for (let r = 0; r < rows; r += rowsPerPart) {
    const n = Math.min(rowsPerPart, rows - r);
    parts.push(e.upload(data.subarray(r * rowElems, (r + n) * rowElems), [n, ...shape.slice(1)], e.dtype, `${what}[${r}:${r + n}]`));
  }
  return parts;
}

function uploadBias(e: Engine, what: string, bias: HostValues | undefined, n: number): Tensor | undefined {
  if (!bias) return undefined;
  const data = bias instanceof Float32Array ? bias : bias.data;
  if (data.length !== n) throw new RangeError(`${what}: bias has ${data.length} values, expected ${n}`);
  return e.upload(data, [n], e.dtype, `${what}.bias`);
}

/**
 * Upload a linear layer: weight [N, K] in PyTorch (out, in) layout, optional bias [N].
 * `maxPartBytes` (default: the engine's binding limit) is the largest single weight tensor; larger
 * weights are split into row parts. Tests pass a small value to exercise the split path.
 */
export function prepareLinear(
  e: Engine, weight: HostValues, shape: readonly [number, number], bias?: HostValues,
  maxPartBytes: number = e.maxBindingBytes, format: WeightFormat = 'float',
): LinearWeight {
  const [n, k] = shape;
  const w = asHost(weight, shape);
  if (!(n > 0 && k > 0) || w.data.length !== n * k) {
    throw new RangeError(`prepareLinear: ${w.data.length} values for weight shape ${fmtShape(shape)}`);
  }
  return { weight: uploadWeight(e, w.data, [n, k], format, maxPartBytes, 'linear.weight'), bias: uploadBias(e, 'prepareLinear', bias, n) };
}

/** PyTorch conv weight (Cout, Cin, KH, KW) -> (Cout, KH, KW, Cin), on the CPU, in the array's own precision. */
export function convWeightToOhwi<A extends Float32Array | Uint16Array>(weight: A, shape: readonly [number, number, number, number]): A {
  const [co, ci, kh, kw] = shape;
  const out = new (weight.constructor as { new (n: number): A })(weight.length);
  for (let o = 0; o < co; o++) {
    for (let c = 0; c < ci; c++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((o * kh + y) * kw + x) * ci + c] = weight[((o * ci + c) * kh + y) * kw + x];
      }
    }
  }
  return out;
}

/**
 * Upload a conv layer from PyTorch layout: weight (Cout, Cin, KH, KW), optional bias [Cout].
 * Stored as [Cout, KH, KW, Cin] (split along Cout over `maxPartBytes`, like prepareLinear).
 */
export function prepareConv2d(
  e: Engine, weight: HostValues, shape: readonly [number, number, number, number], bias?: HostValues,
  maxPartBytes: number = e.maxBindingBytes, format: WeightFormat = 'float',
): Conv2dWeight {
  const [co, ci, kh, kw] = shape;
  const w = asHost(weight, shape);
  if (!(co > 0 && ci > 0 && kh > 0 && kw > 0) || w.data.length !== co * ci * kh * kw) {
    throw new RangeError(`prepareConv2d: ${w.data.length} values for weight shape ${fmtShape(shape)} (Cout, Cin, KH, KW)`);
  }
  return {
    // The memory planner's simulated engine uploads nothing: skip the permutation (same size either way).
    weight: uploadWeight(e, e.simulated ? w.data : convWeightToOhwi(w.data, shape), [co, kh, kw, ci], format, maxPartBytes, 'conv2d.weight'),
    bias: uploadBias(e, 'prepareConv2d', bias, co),
  };
}
