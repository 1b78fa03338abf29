// Weight preparation for the GEMM ops: upload once at load time, in the engine's dtype and the
// layouts the kernels want (see docs/design.md, "Weights are prepared once").
import type { Engine } from '../gpu/engine';
import { bytesPerElement, fmtShape, type Tensor } from '../gpu/tensor';

/**
 * A linear layer's parameters. `weight` is PyTorch's (out, in) = [N, K], row-major, kept as is
 * (y = x·Wᵀ + b). A weight over the binding limit is split along N into row parts [N_i, K], in
 * order; `linear` dispatches once per part into that part's column range of the output.
 */
export interface LinearWeight {
  weight: Tensor | readonly Tensor[];
  /** [N] */
  bias?: Tensor;
}

/**
 * A 2D convolution's parameters: weight [Cout, KH, KW, Cin] (permuted from PyTorch's
 * (Cout, Cin, KH, KW) so the implicit-GEMM reduction runs over Cin fastest), split along Cout into
 * parts like a LinearWeight when over the binding limit; bias [Cout].
 */
export interface Conv2dWeight {
  weight: Tensor | readonly Tensor[];
  bias?: Tensor;
}

/** The weight's row parts, in order along the output dimension (one part when unsplit). */
export function weightParts(w: LinearWeight | Conv2dWeight): readonly Tensor[] {
  const parts = Array.isArray(w.weight) ? (w.weight as readonly Tensor[]) : [w.weight as Tensor];
  if (parts.length === 0) throw new RangeError('weight has no parts');
  return parts;
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

/**
 * Upload a row-major [rows, ...rest] array as one tensor, or as consecutive row parts when one
 * tensor would exceed `maxPartBytes` (each part holds as many whole rows as fit).
 */
function uploadRowParts(e: Engine, data: Float32Array, shape: readonly number[], maxPartBytes: number, what: string): Tensor | Tensor[] {
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

function uploadBias(e: Engine, what: string, bias: Float32Array | undefined, n: number): Tensor | undefined {
  if (!bias) return undefined;
  if (bias.length !== n) throw new RangeError(`${what}: bias has ${bias.length} values, expected ${n}`);
  return e.upload(bias, [n], e.dtype, `${what}.bias`);
}

/**
 * Upload a linear layer: weight [N, K] in PyTorch (out, in) layout, optional bias [N].
 * `maxPartBytes` (default: the engine's binding limit) is the largest single weight tensor; larger
 * weights are split into row parts. Tests pass a small value to exercise the split path.
 */
export function prepareLinear(
  e: Engine, weight: Float32Array, shape: readonly [number, number], bias?: Float32Array,
  maxPartBytes: number = e.maxBindingBytes,
): LinearWeight {
  const [n, k] = shape;
  if (!(n > 0 && k > 0) || weight.length !== n * k) {
    throw new RangeError(`prepareLinear: ${weight.length} values for weight shape ${fmtShape(shape)}`);
  }
  return { weight: uploadRowParts(e, weight, [n, k], maxPartBytes, 'linear.weight'), bias: uploadBias(e, 'prepareLinear', bias, n) };
}

/** PyTorch conv weight (Cout, Cin, KH, KW) -> (Cout, KH, KW, Cin), on the CPU. */
export function convWeightToOhwi(weight: Float32Array, shape: readonly [number, number, number, number]): Float32Array {
  const [co, ci, kh, kw] = shape;
  const out = new Float32Array(weight.length);
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
  e: Engine, weight: Float32Array, shape: readonly [number, number, number, number], bias?: Float32Array,
  maxPartBytes: number = e.maxBindingBytes,
): Conv2dWeight {
  const [co, ci, kh, kw] = shape;
  if (!(co > 0 && ci > 0 && kh > 0 && kw > 0) || weight.length !== co * ci * kh * kw) {
    throw new RangeError(`prepareConv2d: ${weight.length} values for weight shape ${fmtShape(shape)} (Cout, Cin, KH, KW)`);
  }
  return {
    // The memory planner's simulated engine uploads nothing: skip the permutation (same size either way).
    weight: uploadRowParts(e, e.simulated ? weight : convWeightToOhwi(weight, shape), [co, kh, kw, ci], maxPartBytes, 'conv2d.weight'),
    bias: uploadBias(e, 'prepareConv2d', bias, co),
  };
}
