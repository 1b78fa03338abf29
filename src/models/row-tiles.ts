// Row tiles: an activation [N, H, W, C] held as horizontal bands, tiles[i] = rows [start_i, start_i + rows_i) of
// every sample, each its own buffer, so no binding ever holds the whole image (the VAE decoder at large sizes:
// 128 channels × 1024² × 4 B = 512 MiB per tensor).
//
// Exactness: every layer works on whole-image tiles of its own input ("per-layer tiles"), never on a stack of
// layers at once:
// - a k×k conv (stride 1) of tile i reads its (k−1)/2 halo rows from the neighbouring tiles of the same layer
//   (gathered by buffer copies into one input [N, halo + rows_i + halo, W, C]) and pads with zeros only where the
//   tile meets the image's edge, so each output row sees exactly the rows the whole-image conv sees;
// - GroupNorm takes its statistics over all tiles (ops/groupnorm.ts groupNormRowTiles) before normalising any;
// - row-wise ops (linear, 1×1 conv, nearest upsampling) run per tile.
// The alternative, one tile through the whole stack with a halo that grows by one row per 3×3 conv (and doubles
// at each upsampler), cannot be exact: every GroupNorm would need the statistics of layers not yet computed for
// the other tiles (recomputing the stack per GroupNorm is quadratic in depth). Per-layer tiles cost no
// recomputation, only one tile of halo'd input per conv; they bound the largest binding, not the sum of the
// image's activations (the frames per decode call do that).
import type { Engine } from '../gpu/engine';
import { fmtShape, type Tensor } from '../gpu/tensor';
import { conv2d } from '../ops/conv2d';
import { groupNormRowTiles, type GroupNormOptions } from '../ops/groupnorm';
import { type Conv2dWeight, weightParts } from '../ops/weights';
import type { NormParams } from './layers';

/** An image batch [N, H, W, C] as row tiles (owns them). */
export class RowTiles {
  constructor(readonly tiles: Tensor[]) {
    if (!tiles.length) throw new RangeError('RowTiles: no tiles');
    const [n, , w, c] = tiles[0].shape;
    for (const t of tiles) {
      if (t.shape.length !== 4 || t.shape[0] !== n || t.shape[2] !== w || t.shape[3] !== c) throw new RangeError(`RowTiles: tile ${fmtShape(t.shape)} does not match [${n}, rows, ${w}, ${c}]`);
    }
  }

  /** [N, H, W, C] of the whole image. */
  get shape(): [number, number, number, number] {
    const [n, , w, c] = this.tiles[0].shape;
    return [n, this.tiles.reduce((s, t) => s + t.shape[1], 0), w, c];
  }

  release(): void {
    for (const t of this.tiles) t.release();
  }
}

/** Row counts of tiles of at most `rowsPerTile` rows covering `height` rows. */
export function tileRows(height: number, rowsPerTile: number): number[] {
  if (!(Number.isInteger(rowsPerTile) && rowsPerTile >= 1)) throw new RangeError(`rows per tile must be a positive integer, got ${rowsPerTile}`);
  const rows: number[] = [];
  for (let r = 0; r < height; r += rowsPerTile) rows.push(Math.min(rowsPerTile, height - r));
  return rows;
}

/** Upload NHWC data [N, H, W, C] as row tiles of the given row counts (each tile gathered on the CPU). */
export function uploadRowTiles(e: Engine, data: Float32Array, shape: readonly [number, number, number, number], rows: readonly number[]): RowTiles {
  const [n, H, W, C] = shape;
  if (data.length !== n * H * W * C || rows.reduce((s, r) => s + r, 0) !== H) throw new RangeError(`uploadRowTiles: ${data.length} values, tiles of ${rows.join('+')} rows for ${fmtShape(shape)}`);
  const row = W * C;
  const tiles: Tensor[] = [];
  let start = 0;
  for (const r of rows) {
    const part = new Float32Array(n * r * row);
    for (let s = 0; s < n; s++) part.set(data.subarray((s * H + start) * row, (s * H + start + r) * row), s * r * row);
    tiles.push(e.upload(part, [n, r, W, C]));
    start += r;
  }
  return new RowTiles(tiles);
}

/** Bytes of one image row of t, checked to be copyable (buffer copies move whole 4-byte words). */
function rowBytes(op: string, t: Tensor): number {
  const b = (t.byteLength / (t.shape[0] * t.shape[1])) | 0;
  if (b % 4 !== 0) throw new RangeError(`${op}: rows of ${t} are ${b} bytes, not a whole number of 4-byte words; use one tile`);
  return b;
}

/** Copy rows [from, from + count) of every sample of src into rows [to, to + count) of dst (same N, W, C). */
function copyRows(e: Engine, src: Tensor, from: number, dst: Tensor, to: number, count: number): void {
  const rb = rowBytes('row tiles', src);
  const [n, hs] = src.shape;
  const hd = dst.shape[1];
  for (let s = 0; s < n; s++) e.copy(src, dst, count * rb, (s * hs + from) * rb, (s * hd + to) * rb);
}

/** The whole image [N, H, W, C] as one new tensor (buffer copies; the caller releases it). */
export function assembleRows(e: Engine, x: RowTiles): Tensor {
  const out = e.empty(x.shape, x.tiles[0].dtype);
  let at = 0;
  for (const t of x.tiles) {
    copyRows(e, t, 0, out, at, t.shape[1]);
    at += t.shape[1];
  }
  return out;
}

/** f applied to every tile (row-wise ops: linear, 1×1 conv, upsampling); x is not released. */
export function mapRowTiles(x: RowTiles, f: (tile: Tensor, i: number) => Tensor): RowTiles {
  const out: Tensor[] = [];
  try {
    for (const [i, t] of x.tiles.entries()) out.push(f(t, i));
  } catch (err) {
    for (const t of out) t.release();
    throw err;
  }
  return new RowTiles(out);
}

/** GroupNorm with the statistics of the whole image (all tiles); x is not released. */
export function groupNormRows(e: Engine, x: RowTiles, p: NormParams, o: GroupNormOptions): RowTiles {
  return new RowTiles(groupNormRowTiles(e, x.tiles, p.gamma, p.beta, o));
}

/**
 * A stride-1 "same" k×k conv of the whole image, tile by tile: tile i's input is its rows plus (k−1)/2 halo rows
 * from each neighbouring tile (copied), zero-padded only at the image's top and bottom edges. `residual` (row
 * tiles of the output's shape) is added in the GEMM epilogue. x is not released.
 */
export function convRows(e: Engine, x: RowTiles, w: Conv2dWeight, opts: { residual?: RowTiles } = {}): RowTiles {
  const [, KH, KW] = weightParts(w)[0].shape;
  if (KH !== KW || KH % 2 !== 1) throw new RangeError(`convRows: ${KH}×${KW} kernel; only odd square kernels keep "same" rows`);
  const halo = (KH - 1) / 2;
  const tiles = x.tiles;
  if (opts.residual && opts.residual.tiles.length !== tiles.length) throw new RangeError('convRows: residual has other tiles');
  if (tiles.length === 1) return new RowTiles([conv2d(e, tiles[0], w, { residual: opts.residual?.tiles[0] })]);
  return mapRowTiles(x, (t, i) => {
    const [n, r, W, C] = t.shape;
    const top = i > 0 ? halo : 0;
    const bottom = i < tiles.length - 1 ? halo : 0;
    if ((top && tiles[i - 1].shape[1] < halo) || (bottom && tiles[i + 1].shape[1] < halo)) throw new RangeError(`convRows: tiles of fewer than ${halo} rows next to tile ${i}`);
    const input = e.empty([n, top + r + bottom, W, C], t.dtype, 'conv halo tile');
    try {
      if (top) copyRows(e, tiles[i - 1], tiles[i - 1].shape[1] - halo, input, 0, halo);
      copyRows(e, t, 0, input, top, r);
      if (bottom) copyRows(e, tiles[i + 1], 0, input, top + r, halo);
      return conv2d(e, input, w, { padding: { top: halo - top, bottom: halo - bottom, x: (KW - 1) / 2 }, residual: opts.residual?.tiles[i] });
    } finally {
      input.release();
    }
  });
}
