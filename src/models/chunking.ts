// Running a layer over chunks (rows, frames, positions) so that no tensor a kernel binds exceeds the binding limit.
// How big the chunks are is decided in src/plan/chunking.ts; this file only executes the split.
import type { Engine } from '../gpu/engine';
import { bytesPerElement, type Tensor } from '../gpu/tensor';
import { type ChunkLimits, ChunkingError, unitsPerChunk } from '../plan/chunking';
import type { ForwardContext } from './forward-context';

/** The chunk limits of an engine: its binding limit (or a smaller `maxTensorBytes`), its alignment and dtype. */
export function chunkLimits(e: Engine, maxTensorBytes = e.maxBindingBytes): ChunkLimits {
  return { maxTensorBytes, align: e.limits.minStorageBufferOffsetAlignment, bytesPerValue: bytesPerElement(e.dtype) };
}

/**
 * out [rows, ...] = concat over chunks of fn(start, count), each chunk's result [count, ...rest]; `fn`'s result is
 * released after it is copied. The chunk boundaries come from src/plan (aligned views of the inputs).
 */
export function mapRowChunks(e: Engine, rows: number, chunk: number, outShape: readonly number[], fn: (start: number, count: number) => Tensor): Tensor {
  const out = e.empty(outShape);
  const rowElems = out.size / rows;
  const bpe = bytesPerElement(out.dtype);
  try {
    for (let start = 0; start < rows; start += chunk) {
      const count = Math.min(chunk, rows - start);
      const part = fn(start, count);
      if (part.size !== count * rowElems) throw new RangeError(`mapRowChunks: chunk result ${part} is not ${count} rows of ${rowElems}`);
      e.copy(part, out, part.byteLength, 0, start * rowElems * bpe);
      part.release();
    }
  } catch (err) {
    out.release();
    throw err;
  }
  return out;
}

/**
 * Rows [start, start+count) of t along dim 0: an aligned view (owned = false), or a copy when the byte offset is
 * not storage-offset aligned (owned = true: release it).
 */
export function rowsOf(e: Engine, t: Tensor, start: number, count: number): { t: Tensor; owned: boolean } {
  const rowBytes = (t.size / t.shape[0]) * bytesPerElement(t.dtype);
  if ((start * rowBytes) % e.limits.minStorageBufferOffsetAlignment === 0) return { t: t.slice0(start, count), owned: false };
  const copy = e.empty([count, ...t.shape.slice(1)], t.dtype);
  e.copy(t, copy, count * rowBytes, start * rowBytes, 0);
  return { t: copy, owned: true };
}

/**
 * A per-frame (spatial) computation over the frames of x [b*F, h, w, C] (and of `extra`, same row count), in frame
 * chunks when its widest tensor (`widest` values per pixel) over all frames would exceed the limit. `fn` gets a
 * context for the chunk (frames = chunk length) and the inputs' rows; its result has `outChannels` channels.
 * Chunks never straddle samples: chunking needs one sample per pass (src/plan decides samples per pass first).
 */
export function inFrameChunks(
  ctx: ForwardContext, inputs: readonly Tensor[], widest: number, outChannels: number, what: string,
  fn: (c: ForwardContext, xs: Tensor[]) => Tensor,
): Tensor {
  const { e } = ctx;
  const [n, h, w] = inputs[0].shape;
  const pooled = ctx.resnetFramesPerGroup > 1;
  const per = pooled ? n : unitsPerChunk(ctx.limits, h * w * widest * ctx.limits.bytesPerValue, n, what);
  if (per >= n) return fn(ctx, [...inputs]);
  if (ctx.batch !== 1) throw new ChunkingError(`${what}: frame chunks need one sample per pass, got ${ctx.batch}`);
  // Text per frame (prompt travel, [F, tokens, D] for the one sample) goes with its frames; per-sample text stays whole.
  const textPerFrame = ctx.text.shape[0] === n && n !== ctx.batch;
  return mapRowChunks(e, n, per, [n, h, w, outChannels], (start, count) => {
    const parts = inputs.map((t) => rowsOf(e, t, start, count));
    const text = textPerFrame ? rowsOf(e, ctx.text, start, count) : null;
    try {
      return fn({ ...ctx, frames: count, ...(text ? { text: text.t } : {}) }, parts.map((p) => p.t));
    } finally {
      for (const p of parts) if (p.owned) p.t.release();
      if (text?.owned) text.t.release();
    }
  });
}

/** Positions [p0, p0+count) of every row block of t [R, P, C] → [R, count, C] (R copies). */
export function gatherPositions(e: Engine, t: Tensor, p0: number, count: number): Tensor {
  const [R, P, C] = t.shape;
  const bpe = bytesPerElement(t.dtype);
  const out = e.empty([R, count, C], t.dtype);
  for (let r = 0; r < R; r++) e.copy(t, out, count * C * bpe, (r * P + p0) * C * bpe, r * count * C * bpe);
  return out;
}

/** The inverse: part [R, count, C] into positions [p0, p0+count) of out [R, P, C]. */
export function scatterPositions(e: Engine, part: Tensor, out: Tensor, p0: number): void {
  const [R, count, C] = part.shape;
  const P = out.shape[1];
  const bpe = bytesPerElement(part.dtype);
  for (let r = 0; r < R; r++) e.copy(part, out, count * C * bpe, r * count * C * bpe, (r * P + p0) * C * bpe);
}
