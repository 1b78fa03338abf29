import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import { fmtShape, type Tensor } from '../gpu/tensor';
import layoutWgsl from '../../shaders/layout.wgsl?raw';

const PERMUTE = kernel('permute', layoutWgsl);
const MAX_RANK = 6;

/** x.permute(perm) made contiguous (rank <= 6): out.shape[k] = x.shape[perm[k]]. */
export function permute(e: Engine, x: Tensor, perm: readonly number[]): Tensor {
  return permuteAs(e, x, perm, perm.map((p) => x.shape[p]));
}

/** permute, with the (contiguous) result given the shape `as` (same element count: a free reshape). */
function permuteAs(e: Engine, x: Tensor, perm: readonly number[], as: readonly number[]): Tensor {
  const rank = x.shape.length;
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== rank || sorted.some((p, i) => p !== i)) throw new RangeError(`permute: [${perm}] is not a permutation of the ${rank} dims of ${fmtShape(x.shape)}`);
  if (rank > MAX_RANK) throw new RangeError(`permute: rank ${rank} > ${MAX_RANK}`);
  const inStrides = new Array<number>(rank);
  for (let k = rank - 1, s = 1; k >= 0; k--) { inStrides[k] = s; s *= x.shape[k]; }
  const outShape = perm.map((p) => x.shape[p]);
  const pad = MAX_RANK - rank;
  const dims = [...new Array<number>(pad).fill(1), ...outShape];
  const strides = [...new Array<number>(pad).fill(0), ...perm.map((p) => inStrides[p])];
  const params = new Params().u32(x.size);
  for (const d of dims) params.u32(d);
  for (const s of strides) params.u32(s);
  const out = e.empty(as, x.dtype);
  e.dispatch({ kernel: PERMUTE, dtype: x.dtype, bindings: [params.bytes(), x, out], workgroups: e.grid(x.size, 256) });
  return out;
}

function expectRank(op: string, x: Tensor, rank: number, layout: string): void {
  if (x.shape.length !== rank) throw new RangeError(`${op}: x must be ${layout}, got ${fmtShape(x.shape)}`);
}

/** NCHW [N, C, H, W] -> NHWC [N, H, W, C]. */
export function nchwToNhwc(e: Engine, x: Tensor): Tensor {
  expectRank('nchwToNhwc', x, 4, '[N, C, H, W]');
  return permute(e, x, [0, 2, 3, 1]);
}

/** NHWC [N, H, W, C] -> NCHW [N, C, H, W]. */
export function nhwcToNchw(e: Engine, x: Tensor): Tensor {
  expectRank('nhwcToNchw', x, 4, '[N, H, W, C]');
  return permute(e, x, [0, 3, 1, 2]);
}

/** Video latents (b, c, f, h, w) (diffusers) -> frames [b*f, h, w, c], row n = b*F + f (docs/design.md). */
export function videoToFrames(e: Engine, x: Tensor): Tensor {
  expectRank('videoToFrames', x, 5, '(b, c, f, h, w)');
  const [b, , f, h, w] = x.shape;
  return permuteAs(e, x, [0, 2, 3, 4, 1], [b * f, h, w, x.shape[1]]); // (b, f, h, w, c) contiguous
}

/** Frames [b*f, h, w, c] (row n = b*F + f) -> video latents (b, c, f, h, w). */
export function framesToVideo(e: Engine, x: Tensor, b: number): Tensor {
  expectRank('framesToVideo', x, 4, '[b*f, h, w, c]');
  const [n, h, w, c] = x.shape;
  if (!Number.isInteger(b) || b < 1 || n % b !== 0) throw new RangeError(`framesToVideo: ${n} frames are not divisible into b = ${b} videos`);
  return permute(e, x.reshape([b, n / b, h, w, c]), [0, 4, 1, 2, 3]);
}
