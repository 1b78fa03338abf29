import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import type { Tensor } from '../gpu/tensor';
import addWgsl from '../../shaders/add.wgsl?raw';

const ADD = kernel('add', addWgsl);

/** a + b, same shape and dtype (residual connections). Returns a new tensor. */
export function add(e: Engine, a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size || a.dtype !== b.dtype) throw new RangeError(`add: ${a} vs ${b}`);
  const out = e.empty(a.shape, a.dtype);
  e.dispatch({
    kernel: ADD,
    dtype: a.dtype,
    bindings: [new Params().u32(a.size).bytes(), a, b, out],
    workgroups: e.grid(a.size, 256),
  });
  return out;
}
