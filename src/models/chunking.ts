// Splitting work into row chunks so that no tensor a kernel binds exceeds the binding limit (128 MiB here).
// At 512², 16 frames, one sample: the GEGLU hidden state of the top-level feed-forwards is 65536 tokens × 2560
// values (335 MB in f16), so row-wise layers run over contiguous row ranges and write into one output.
import type { Engine } from '../gpu/engine';
import { bytesPerElement, type Tensor } from '../gpu/tensor';

/** Default ceiling of one tensor's bytes: the engine's binding limit. */
export const bindingLimit = (e: Engine): number => e.maxBindingBytes;

/**
 * Rows per chunk for rows of `rowBytes` bytes (of the widest tensor a chunk makes) under `maxBytes`, rounded down so
 * every chunk's start offset in a tensor of `rowElems` elements per row stays storage-offset aligned. At least 1
 * aligned step; throws when even that does not fit.
 */
export function rowsPerChunk(e: Engine, widestRowBytes: number, maxBytes: number, rowElems: number, what: string): number {
  const align = e.limits.minStorageBufferOffsetAlignment;
  const rowBytes = rowElems * bytesPerElement(e.dtype);
  let step = 1;
  while ((step * rowBytes) % align !== 0) step++;
  const fit = Math.floor(maxBytes / widestRowBytes);
  const rows = Math.floor(fit / step) * step;
  if (rows < 1) throw new RangeError(`${what}: ${step} row(s) of ${widestRowBytes} bytes exceed the ${maxBytes}-byte limit of one tensor`);
  return rows;
}

/**
 * out [rows, ...] = concat over chunks of fn(start, count), each chunk's result [count, ...rest]; `fn`'s result is
 * released after it is copied. The chunk boundaries come from `rowsPerChunk` (aligned views of the inputs).
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
