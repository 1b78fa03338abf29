// Linear layers: y = scale·act(x·Wᵀ + b + rowBias) + residual over the last dim, on the tiled GEMM core.
import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import type { Tensor } from '../gpu/tensor';
import { ACTIVATION_ID, ACTIVATIONS_WGSL, type Activation } from './activation';
import { checkBindable, checkBindableShape, checkEpilogue, dispatchGemm, type GemmEpilogue } from './matmul';
import { floatParts, type LinearWeight, outFeatures, QuantizedTensor, weightParts, type WeightTensor } from './weights';
import naiveWgsl from '../../shaders/matmul_naive.wgsl?raw';

export interface LinearOptions {
  act?: Activation;
  /** Same shape as the output, added after the activation. */
  residual?: Tensor;
  /**
   * Per-row-group bias: row r (of the flattened [rows, N] output) adds table[floor(r / rowsPerEntry) % P].
   * E.g. a positional encoding pe folded through the projection ((y + pe)Wᵀ = yWᵀ + peWᵀ): in the token
   * layout [b*f, h*w, C], rowsPerEntry = h*w and table = peWᵀ [F, N].
   */
  rowBias?: { table: Tensor; rowsPerEntry: number };
  /** Factor on act(x·Wᵀ + b + rowBias) before the residual is added (default 1). */
  scale?: number;
}

function checkInput(op: string, x: Tensor, parts: readonly WeightTensor[]): { K: number; rows: number } {
  const K = x.shape[x.shape.length - 1];
  for (const w of parts) {
    if (w.shape.length !== 2 || w.shape[1] !== K) throw new RangeError(`${op}: input ${x} does not match weight ${w} ([N, K] with K = ${K})`);
    if (!(w instanceof QuantizedTensor) && w.dtype !== x.dtype) throw new TypeError(`${op}: input is ${x.dtype}, weight is ${w.dtype}`);
  }
  if (x.shape.length < 1) throw new RangeError(`${op}: input ${x} has no feature dim`);
  return { K, rows: x.size / K };
}

/** x [..., K] → [..., N]. One dispatch per weight part, each writing its own column range. */
export function linear(e: Engine, x: Tensor, w: LinearWeight, opts: LinearOptions = {}): Tensor {
  const parts = weightParts(w);
  const { K, rows } = checkInput('linear', x, parts);
  const N = outFeatures(w);
  const outShape = [...x.shape.slice(0, -1), N];
  const ep: GemmEpilogue = { act: opts.act, bias: w.bias, rowBias: opts.rowBias, residual: opts.residual, scale: opts.scale };
  checkEpilogue('linear', ep, outShape, N);
  checkBindable(e, 'linear', 'input A', x);
  checkBindableShape(e, 'linear', 'output', outShape, x.dtype);
  const out = e.empty(outShape, x.dtype);
  let col = 0;
  for (const part of parts) {
    dispatchGemm(e, {
      op: 'linear', aKind: 'dense', a: x, b: part, out, transB: true, batch: 1, M: rows, N: part.shape[0], K,
      strideA: 0, strideB: 0, strideC: 0, ldc: N, colOffset: col, epilogue: ep,
    });
    col += part.shape[0];
  }
  return out;
}

const NAIVE = kernel('matmul_naive', ACTIVATIONS_WGSL + '\n' + naiveWgsl);

/** The plain one-thread-per-output linear layer (benchmark baseline): act(x·Wᵀ + b), unsplit weights only. */
export function linearNaive(e: Engine, x: Tensor, w: LinearWeight, opts: { act?: Activation } = {}): Tensor {
  const parts = floatParts(w, 'linearNaive');
  if (parts.length !== 1) throw new RangeError('linearNaive: split weights are not supported');
  const { K, rows } = checkInput('linearNaive', x, parts);
  const N = parts[0].shape[0];
  const outShape = [...x.shape.slice(0, -1), N];
  checkEpilogue('linearNaive', { bias: w.bias }, outShape, N);
  checkBindable(e, 'linearNaive', 'input', x);
  checkBindableShape(e, 'linearNaive', 'output', outShape, x.dtype);
  const out = e.empty(outShape, x.dtype);
  e.dispatch({
    kernel: NAIVE,
    dtype: x.dtype,
    bindings: [new Params().u32(rows).u32(N).u32(K).u32(w.bias ? 1 : 0).bytes(), x, parts[0], w.bias ?? parts[0], out],
    workgroups: e.grid(rows * N, 64),
    constants: { ACT: ACTIVATION_ID[opts.act ?? 'none'] },
  });
  return out;
}
