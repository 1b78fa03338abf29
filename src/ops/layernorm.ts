import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import { fmtShape, type Tensor } from '../gpu/tensor';
import layernormWgsl from '../../shaders/layernorm.wgsl?raw';

const LAYERNORM = kernel('layernorm', layernormWgsl);

/**
 * torch.nn.LayerNorm over the last dim: x [..., C], gamma/beta [C]; biased variance in f32.
 * (Transformer blocks: norm1/2/3 of the spatial transformer, norms.k / ff_norm of the motion module.)
 */
export function layerNorm(e: Engine, x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const C = x.shape[x.shape.length - 1];
  const where = `layerNorm(x ${fmtShape(x.shape)}, gamma ${fmtShape(gamma.shape)}, beta ${fmtShape(beta.shape)})`;
  if (x.shape.length < 1 || !(C > 0)) throw new RangeError(`${where}: x must be [..., C] with C > 0`);
  if (gamma.size !== C || beta.size !== C) throw new RangeError(`${where}: gamma and beta must have C = ${C} values`);
  if (gamma.dtype !== x.dtype || beta.dtype !== x.dtype) throw new TypeError(`${where}: gamma/beta are ${gamma.dtype}/${beta.dtype}, x is ${x.dtype}`);
  if (!(eps >= 0)) throw new RangeError(`${where}: eps must be >= 0, got ${eps}`);
  const rows = x.size / C;
  const tpr = threadsPerRow(C);
  const out = e.empty(x.shape, x.dtype);
  e.dispatch({
    kernel: LAYERNORM, dtype: x.dtype, constants: { TPR: tpr },
    bindings: [new Params().u32(rows).u32(C).f32(eps).bytes(), x, gamma, beta, out],
    workgroups: e.grid(Math.ceil(rows / (64 / tpr)), 1),
  });
  return out;
}

/** Threads per row: about 4 values per thread, a power of two in [1, 64]. */
export function threadsPerRow(C: number): number {
  return Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(C / 4)))));
}
