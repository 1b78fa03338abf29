import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import type { Tensor } from '../gpu/tensor';
import temporalWgsl from '../../shaders/temporal_attention.wgsl?raw';
import transposeWgsl from '../../shaders/temporal_transpose.wgsl?raw';
import { attentionNaive } from './attention';

const TEMPORAL = kernel('temporal_attention', temporalWgsl);
const TRANSPOSE = kernel('temporal_transpose', transposeWgsl);

/** Most frames one call attends over (the per-thread score row lives in registers). */
export const MAX_FRAMES = 64;

export interface TemporalAttentionOptions {
  frames: number;
  heads: number;
  /** Default 1/sqrt(C/heads). */
  scale?: number;
}

interface Dims { b: number; f: number; p: number; c: number; heads: number; d: number; scale: number }

function resolve(op: string, qkv: Tensor, opts: TemporalAttentionOptions): Dims {
  const { frames: f, heads } = opts;
  const what = `${op}: qkv ${qkv} frames ${f} heads ${heads}`;
  if (qkv.shape.length !== 3) throw new RangeError(`${what}: qkv must be [B*F, P, 3C]`);
  const [bf, p, c3] = qkv.shape;
  if (!Number.isInteger(f) || f < 1 || f > MAX_FRAMES) throw new RangeError(`${what}: frames must be 1..${MAX_FRAMES}`);
  if (bf % f !== 0) throw new RangeError(`${what}: ${bf} rows of frames are not a multiple of ${f} frames`);
  if (c3 % 3 !== 0) throw new RangeError(`${what}: last dim ${c3} is not 3C`);
  const c = c3 / 3;
  if (!Number.isInteger(heads) || heads < 1 || c % heads !== 0) throw new RangeError(`${what}: ${c} channels do not split into ${heads} heads`);
  const d = c / heads;
  return { b: bf / f, f, p, c, heads, d, scale: opts.scale ?? 1 / Math.sqrt(d) };
}

/** Head-dim chunk: ≤ 64 columns, chunks of near-equal size (D=40: 40; 80: 40; 160: 54). */
export const temporalChunk = (d: number): number => Math.ceil(d / Math.ceil(d / 64));

/**
 * Temporal self-attention of the motion module, fused (shaders/temporal_attention.wgsl):
 * qkv [B*F, P, 3C] (row (b*F+f)*P + p = [q | k | v] of frame f at position p) → out [B*F, P, C];
 * for each (b, p) an independent `heads`-head attention over the F frames. No transposes.
 */
export function temporalAttention(e: Engine, qkv: Tensor, opts: TemporalAttentionOptions): Tensor {
  const r = resolve('temporalAttention', qkv, opts);
  const out = e.empty([r.b * r.f, r.p, r.c], qkv.dtype);
  const positionsPerGroup = Math.floor(64 / r.f);
  e.dispatch({
    kernel: TEMPORAL,
    dtype: qkv.dtype,
    bindings: [new Params().u32(r.p).u32(r.heads).f32(r.scale).bytes(), qkv, out],
    workgroups: [Math.ceil(r.p / positionsPerGroup), r.heads, r.b],
    constants: { F: r.f, D: r.d, DT: temporalChunk(r.d) },
  });
  return out;
}

/**
 * Swap the middle axes of x viewed as [n, a, bd, w] → [n, bd, a, w] (a real copy), returned with
 * `shape` (default [n, bd, a, w]; any shape of the same size).
 */
export function swapMiddleAxes(e: Engine, x: Tensor, n: number, a: number, bd: number, w: number, shape?: number[]): Tensor {
  if (n * a * bd * w !== x.size) throw new RangeError(`swapMiddleAxes: ${x} is not [${n},${a},${bd},${w}]`);
  const out = e.empty(shape ?? [n, bd, a, w], x.dtype);
  if (out.size !== x.size) throw new RangeError(`swapMiddleAxes: result shape [${shape}] does not hold ${x.size} elements`);
  e.dispatch({
    kernel: TRANSPOSE,
    dtype: x.dtype,
    bindings: [new Params().u32(n).u32(a).u32(bd).u32(w).bytes(), x, out],
    workgroups: e.grid(x.size, 256),
  });
  return out;
}

/**
 * The same computation done plainly, for benchmark ratios: transpose qkv to (B*P, F, 3C), plain
 * three-kernel attention (scores materialised), transpose the result back to (B*F, P, C).
 */
export function temporalAttentionNaive(e: Engine, qkv: Tensor, opts: TemporalAttentionOptions): Tensor {
  const r = resolve('temporalAttentionNaive', qkv, opts);
  const seq = swapMiddleAxes(e, qkv, r.b, r.f, r.p, 3 * r.c, [r.b * r.p, r.f, 3 * r.c]);
  const slice = (i: number) => ({ stride: 3 * r.c, offset: i * r.c });
  const o = attentionNaive(e, seq, seq, seq, { heads: r.heads, scale: r.scale, q: slice(0), k: slice(1), v: slice(2) });
  const out = swapMiddleAxes(e, o, r.b, r.p, r.f, r.c, [r.b * r.f, r.p, r.c]);
  seq.release();
  o.release();
  return out;
}
