import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import { fmtShape, type Tensor } from '../gpu/tensor';
import attentionWgsl from '../../shaders/attention.wgsl?raw';
import attentionNaiveWgsl from '../../shaders/attention_naive.wgsl?raw';

const FLASH = kernel('attention', attentionWgsl);
const NAIVE_SCORES = kernel('attention_naive', attentionNaiveWgsl, 'scores');
const NAIVE_SOFTMAX = kernel('attention_naive', attentionNaiveWgsl, 'softmax');
const NAIVE_PV = kernel('attention_naive', attentionNaiveWgsl, 'pv');

/** A column slice of a token-major tensor: element (row, col) is at row*stride + offset + col. */
export interface ColumnSlice {
  stride: number;
  offset: number;
}

export interface AttentionOptions {
  heads: number;
  /** Default 1/sqrt(D). */
  scale?: number;
  /** Per-input column slices (e.g. of one fused [B, N, 3C] QKV projection); default dense [B, N, H*D]. */
  q?: ColumnSlice;
  k?: ColumnSlice;
  v?: ColumnSlice;
  /** Override the per-head-dim tile choice (benchmarks, tuning). */
  tiles?: AttentionTiles;
}

/** Tile strategy of the flash kernel: BQ query rows per workgroup, BK key rows per tile, TD threads per row. */
export interface AttentionTiles {
  bq: number;
  bk: number;
  td: number;
}

export const MAX_HEAD_DIM = 256;
const MAX_DPT = 8; // output dims per thread (shaders/attention.wgsl)
const SMEM_FLOATS = 4096; // 16 KiB of f32 workgroup memory
const MAX_THREADS = 256;

/**
 * Tiles for head dim D: TD is the smallest power of two that leaves ≤ 8 output dims per thread,
 * BQ fills 256 threads (at most 64 rows), BK is the largest key tile (≤ 64) that keeps
 * Q (BQ·D) + K, V (2·BK·D) + scores and their exponentials (2·BQ·BK) within 16 KiB of f32.
 */
export function attentionTiles(d: number): AttentionTiles {
  if (!Number.isInteger(d) || d < 1 || d > MAX_HEAD_DIM) throw new RangeError(`attention: head dim ${d} is outside 1..${MAX_HEAD_DIM}`);
  let td = 1;
  while (Math.ceil(d / td) > MAX_DPT) td *= 2;
  const bq = Math.min(64, MAX_THREADS / td);
  const bk = Math.min(64, Math.floor((SMEM_FLOATS - bq * d) / (2 * d + 2 * bq)));
  return { bq, bk, td };
}

function checkTiles(t: AttentionTiles, d: number): void {
  const { bq, bk, td } = t;
  const ok = [bq, bk, td].every((x) => Number.isInteger(x) && x >= 1) && Math.ceil(d / td) <= MAX_DPT &&
    bq * td <= MAX_THREADS && bq * d + 2 * bk * d + 2 * bq * bk <= SMEM_FLOATS;
  if (!ok) throw new RangeError(`attention: tiles bq=${bq} bk=${bk} td=${td} do not fit head dim ${d} (≤${MAX_DPT} dims/thread, ≤${MAX_THREADS} threads, ≤16 KiB)`);
}

interface Resolved {
  b: number; nq: number; nk: number; heads: number; d: number; c: number; scale: number;
  q: ColumnSlice; k: ColumnSlice; v: ColumnSlice;
}

/** Shapes and slices of an attention call, checked; the message names the op and all shapes. */
function resolve(op: string, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Resolved {
  const what = `${op}: q ${fmtShape(q.shape)} k ${fmtShape(k.shape)} v ${fmtShape(v.shape)} heads ${opts.heads}`;
  for (const t of [q, k, v]) if (t.shape.length !== 3) throw new RangeError(`${what}: inputs must be 3-D [B, N, cols]`);
  if (q.dtype !== k.dtype || q.dtype !== v.dtype) throw new TypeError(`${what}: mixed dtypes ${q.dtype}/${k.dtype}/${v.dtype}`);
  const [b, nq] = q.shape;
  const nk = k.shape[1];
  if (k.shape[0] !== b || v.shape[0] !== b) throw new RangeError(`${what}: batch sizes differ`);
  if (v.shape[1] !== nk) throw new RangeError(`${what}: k and v token counts differ`);
  if (nq < 1 || nk < 1 || b < 1) throw new RangeError(`${what}: empty input`);
  const heads = opts.heads;
  const qs = opts.q ?? { stride: q.shape[2], offset: 0 };
  const ks = opts.k ?? { stride: k.shape[2], offset: 0 };
  const vs = opts.v ?? { stride: v.shape[2], offset: 0 };
  // Channel count: the dense default is the whole row; with slices, all three must agree on C = H*D.
  const width = (t: Tensor, s: ColumnSlice | undefined) => (s ? undefined : t.shape[2]);
  const widths = [width(q, opts.q), width(k, opts.k), width(v, opts.v)].filter((x): x is number => x !== undefined);
  let c: number;
  if (widths.length) {
    c = widths[0];
    if (widths.some((w) => w !== c)) throw new RangeError(`${what}: channel counts differ`);
  } else {
    // All sliced: C is a third of the fused width when all three come from one [B, N, 3C] tensor.
    if (q.shape[2] % 3 !== 0) throw new RangeError(`${what}: with q, k, v all sliced the columns must be 3C`);
    c = q.shape[2] / 3;
  }
  if (!Number.isInteger(heads) || heads < 1 || c % heads !== 0) throw new RangeError(`${what}: ${c} channels do not split into ${heads} heads`);
  const d = c / heads;
  if (d > MAX_HEAD_DIM) throw new RangeError(`${what}: head dim ${d} over ${MAX_HEAD_DIM}`);
  for (const [name, t, s] of [['q', q, qs], ['k', k, ks], ['v', v, vs]] as const) {
    if (!Number.isInteger(s.stride) || !Number.isInteger(s.offset) || s.offset < 0 || s.offset + c > s.stride || s.stride !== t.shape[2]) {
      throw new RangeError(`${what}: ${name} slice (stride ${s.stride}, offset ${s.offset}) must select ${c} columns of its ${t.shape[2]}-wide rows`);
    }
  }
  return { b, nq, nk, heads, d, c, scale: opts.scale ?? 1 / Math.sqrt(d), q: qs, k: ks, v: vs };
}

/**
 * Multi-head attention softmax(q·kᵀ·scale)·v, tiled with an online softmax (shaders/attention.wgsl).
 * q [B, Nq, ·], k/v [B, Nk, ·], token-major with head h in columns h*D .. h*D+D of the (sliced) row.
 * Returns a new dense [B, Nq, H*D].
 */
export function attention(e: Engine, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const r = resolve('attention', q, k, v, opts);
  const tiles = opts.tiles ?? attentionTiles(r.d);
  checkTiles(tiles, r.d);
  const out = e.empty([r.b, r.nq, r.c], q.dtype);
  const params = new Params()
    .u32(r.nq).u32(r.nk).u32(r.heads).f32(r.scale)
    .u32(r.q.stride).u32(r.q.offset).u32(r.k.stride).u32(r.k.offset)
    .u32(r.v.stride).u32(r.v.offset);
  e.dispatch({
    kernel: FLASH,
    dtype: q.dtype,
    bindings: [params.bytes(), q, k, v, out],
    workgroups: [Math.ceil(r.nq / tiles.bq), r.heads, r.b],
    constants: { D: r.d, BQ: tiles.bq, BK: tiles.bk, TD: tiles.td },
  });
  return out;
}

/**
 * The same attention done plainly (shaders/attention_naive.wgsl): scores materialised in f32,
 * softmax, then P·V; three dispatches per group of (batch, head) pairs. For benchmark ratios.
 */
export function attentionNaive(e: Engine, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const r = resolve('attentionNaive', q, k, v, opts);
  const out = e.empty([r.b, r.nq, r.c], q.dtype);
  const pairs = r.b * r.heads;
  const perPair = r.nq * r.nk * 4;
  const group = Math.max(1, Math.min(pairs, Math.floor(e.maxBindingBytes / perPair)));
  if (perPair > e.maxBindingBytes) throw new RangeError(`attentionNaive: one ${r.nq}×${r.nk} score matrix is over the binding limit`);
  const scores = e.empty([group * r.nq * r.nk], 'f32');
  for (let g0 = 0; g0 < pairs; g0 += group) {
    const groups = Math.min(group, pairs - g0);
    const base = (stride: number, off: number, ks = 0, ko = 0) =>
      new Params().u32(r.nq).u32(r.nk).u32(r.heads).u32(r.d).f32(r.scale).u32(g0).u32(groups).u32(stride)
        .u32(off).u32(ks).u32(ko).u32(0).bytes();
    e.dispatch({
      kernel: NAIVE_SCORES, dtype: q.dtype,
      bindings: [base(r.q.stride, r.q.offset, r.k.stride, r.k.offset), q, k, scores],
      workgroups: e.grid(groups * r.nq * r.nk, 64),
    });
    e.dispatch({ kernel: NAIVE_SOFTMAX, dtype: q.dtype, bindings: [base(0, 0), scores], workgroups: e.grid(groups * r.nq, 64) });
    e.dispatch({
      kernel: NAIVE_PV, dtype: q.dtype,
      bindings: [base(r.v.stride, r.v.offset), scores, v, out],
      workgroups: e.grid(groups * r.nq * r.d, 64),
    });
  }
  scores.release();
  return out;
}
