// Quantized UNet + motion-module weights kept between loads (issue 8: "the second start is fast"): the first int8 or
// int4 load writes every quantized matrix into one derived entry of the model cache, tensor by tensor as it is
// made; the next load with the same inputs reads them back, one tensor at a time, instead of reading the source
// weights, merging LoRAs and quantizing again. Nothing is ever held as a whole-model copy.
//
// Entry layout (little-endian): the tensors' packed words then scales, back to back, in load order; then a JSON
// index { v, tensors: { name: { format, shape, groupSize, at, words, scales, check } } } (byte offsets and lengths;
// `check` = checksum32 of the tensor's words + scales); then 8 bytes: the index length (u32) and the magic 'ADWQ'.
//
// A tensor that is missing from the index, does not match the requested format and shape, or fails its check makes
// the entry stale: that tensor is quantized again from the source, and the entry is rebuilt in the same load (the
// fresh tensors, plus the entry's other tensors that pass their check, copied over), so a corrupt entry costs one
// slower load and is never visible to the user.

import { checksum32, type DerivedContext, type DerivedWriter } from './derived';
import { type QuantFormat, type QuantizedHostTensor, scaleWordsPerRow, wordsPerRow } from './quantize';

/**
 * Bump when what is stored for the same inputs changes: quantize()'s rounding or packing, the conv weight's OHWI
 * order, the canonical weight names, or which weights are fused (src/models/layers.ts).
 */
export const QUANTIZED_CACHE_VERSION = 1;

const MAGIC = 0x51574441; // 'ADWQ'

/** What the UNet's loader asks of a cache of quantized weights (src/models/layers.ts). */
export interface QuantizedWeightCache {
  /** The stored quantized `name` in `format` with `shape` (the GEMM layout), or null: quantize it and `put` it. */
  get(name: string, format: QuantFormat, shape: readonly number[]): Promise<QuantizedHostTensor | null>;
  put(name: string, q: QuantizedHostTensor): Promise<void>;
}

interface IndexEntry {
  format: QuantFormat;
  shape: number[];
  groupSize: number;
  at: number;
  words: number;
  scales: number;
  check: number;
}

const bytesOf = (a: Uint32Array | Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const kOf = (shape: readonly number[]) => shape.slice(1).reduce((a, b) => a * b, 1);

/** Byte lengths of a quantized tensor's words and scales, from its format and shape. */
function sizesOf(format: QuantFormat, shape: readonly number[]): { words: number; scales: number } {
  const n = shape[0], k = kOf(shape);
  return { words: n * wordsPerRow(format, k) * 4, scales: n * scaleWordsPerRow(format, k) * 4 };
}

/** Appends tensors to a derived entry, then writes the index and footer on `finish`. */
class EntryWriter {
  private at = 0;
  private readonly index: Record<string, IndexEntry> = {};
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly w: DerivedWriter) {}

  has(name: string): boolean {
    return name in this.index;
  }

  /** Queues `q`'s bytes (writes stay in call order). */
  put(name: string, q: QuantizedHostTensor, check?: number): Promise<void> {
    const words = bytesOf(q.words), scales = bytesOf(q.scales);
    const c = check ?? checksumOf(words, scales);
    this.index[name] = { format: q.format, shape: [...q.shape], groupSize: q.groupSize, at: this.at, words: words.byteLength, scales: scales.byteLength, check: c };
    this.at += words.byteLength + scales.byteLength;
    this.chain = this.chain.then(async () => {
      await this.w.write(words);
      await this.w.write(scales);
    });
    return this.chain;
  }

  async finish(): Promise<void> {
    await this.chain;
    const json = new TextEncoder().encode(JSON.stringify({ v: QUANTIZED_CACHE_VERSION, tensors: this.index }));
    const footer = new DataView(new ArrayBuffer(8));
    footer.setUint32(0, json.byteLength, true);
    footer.setUint32(4, MAGIC, true);
    await this.w.write(json);
    await this.w.write(new Uint8Array(footer.buffer));
    await this.w.commit();
  }

  async abort(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.w.abort();
  }
}

/** checksum32 of words then scales, as if they were one buffer (both are whole u32 words). */
const checksumOf = (words: Uint8Array, scales: Uint8Array): number => checksum32(scales, checksum32(words));

/** The index of a stored entry, or null when it is not one (no footer, bad JSON, offsets outside the data). */
async function readIndex(blob: Blob): Promise<Record<string, IndexEntry> | null> {
  if (blob.size < 8) return null;
  const footer = new DataView(await blob.slice(blob.size - 8).arrayBuffer());
  const len = footer.getUint32(0, true);
  if (footer.getUint32(4, true) !== MAGIC || len > blob.size - 8) return null;
  const dataEnd = blob.size - 8 - len;
  try {
    const parsed = JSON.parse(await blob.slice(dataEnd, blob.size - 8).text()) as { v?: unknown; tensors?: Record<string, IndexEntry> };
    if (parsed.v !== QUANTIZED_CACHE_VERSION || typeof parsed.tensors !== 'object' || parsed.tensors === null) return null;
    for (const e of Object.values(parsed.tensors)) {
      if (!(Number.isSafeInteger(e.at) && Number.isSafeInteger(e.words) && Number.isSafeInteger(e.scales) && e.at >= 0 && e.at + e.words + e.scales <= dataEnd)) return null;
    }
    return parsed.tensors;
  } catch {
    return null;
  }
}

export interface QuantizedCacheStats {
  /** Tensors read from the stored entry. */
  hits: number;
  /** Tensors quantized in this load (not stored yet, or stale). */
  quantized: number;
  /** The stored entry was found stale or corrupt and rebuilt. */
  rebuilt: boolean;
}

/**
 * One load's cache of quantized weights: reads the stored entry for these inputs when there is one, else records a
 * new one. Call `finish()` after a successful load (commits a new or rebuilt entry), `abort()` after a failed one.
 */
export class QuantizedCacheSession implements QuantizedWeightCache {
  readonly stats: QuantizedCacheStats = { hits: 0, quantized: 0, rebuilt: false };
  private writer: EntryWriter | null = null;

  private constructor(
    private readonly ctx: DerivedContext,
    private readonly tag: string,
    private readonly label: string,
    private readonly from: string[],
    private stored: { blob: Blob; index: Record<string, IndexEntry> } | null,
  ) {}

  /** `tag` names the model and format (e.g. `unet-int8`); `ctx.params` must hold everything else it depends on. */
  static async open(ctx: DerivedContext, tag: string, label: string): Promise<QuantizedCacheSession> {
    const from = [...ctx.inputs, ...ctx.params, `quantizer-v${QUANTIZED_CACHE_VERSION}`];
    const blob = await ctx.store.getDerived(tag, from).catch(() => null);
    const index = blob ? await readIndex(blob).catch(() => null) : null;
    const session = new QuantizedCacheSession(ctx, tag, label, from, blob && index ? { blob, index } : null);
    if (blob && !index) session.stats.rebuilt = true; // an unreadable entry: written anew below
    if (!session.stored) session.writer = await session.newWriter();
    return session;
  }

  /** A writer for a new entry, or null when the store cannot take one now (the load goes on without caching). */
  private async newWriter(): Promise<EntryWriter | null> {
    try {
      return new EntryWriter(await this.ctx.store.writeDerived(this.tag, this.from, { label: this.label, inputs: this.ctx.inputs }));
    } catch {
      return null;
    }
  }

  /** A stored tensor after its checks, or null. */
  private async read(name: string, format: QuantFormat, shape: readonly number[]): Promise<{ q: QuantizedHostTensor; check: number } | null> {
    const e = this.stored?.index[name];
    if (!e || e.format !== format || e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) return null;
    const want = sizesOf(format, shape);
    if (e.words !== want.words || e.scales !== want.scales) return null;
    let buf: ArrayBuffer;
    try {
      buf = await this.stored!.blob.slice(e.at, e.at + e.words + e.scales).arrayBuffer();
    } catch {
      return null;
    }
    if (buf.byteLength !== e.words + e.scales || checksum32(new Uint8Array(buf)) !== e.check) return null;
    const words = new Uint32Array(buf, 0, e.words / 4);
    const scales = format === 'int8' ? new Float32Array(buf, e.words, e.scales / 4) : new Uint16Array(buf, e.words, e.scales / 2);
    return { q: { format, shape: [...shape], groupSize: e.groupSize, words, scales }, check: e.check };
  }

  async get(name: string, format: QuantFormat, shape: readonly number[]): Promise<QuantizedHostTensor | null> {
    if (!this.stored) return null;
    const got = await this.read(name, format, shape);
    if (got) {
      this.stats.hits++;
      return got.q;
    }
    // Stale or corrupt: this tensor is quantized again, and the entry is rebuilt around it.
    if (!this.stats.rebuilt) {
      this.stats.rebuilt = true;
      this.writer = await this.newWriter();
    }
    return null;
  }

  async put(name: string, q: QuantizedHostTensor): Promise<void> {
    this.stats.quantized++;
    const w = this.writer;
    if (!w) return;
    try {
      await w.put(name, q);
    } catch {
      // A full or failing store is not the load's failure: this load just keeps nothing.
      this.writer = null;
      await w.abort().catch(() => undefined);
    }
  }

  /** After a successful load: commits the new entry (a rebuilt one with the stored tensors that are still good). */
  async finish(): Promise<void> {
    const w = this.writer;
    if (!w) return;
    this.writer = null;
    try {
      if (this.stored) {
        for (const [name, e] of Object.entries(this.stored.index)) {
          if (w.has(name)) continue;
          const got = await this.read(name, e.format, e.shape);
          if (!got) {
            // Another bad tensor that this load did not ask for: drop the entry; the next load writes it whole.
            await w.abort();
            await this.ctx.store.removeDerived(this.tag, this.from).catch(() => undefined);
            return;
          }
          await w.put(name, got.q, got.check);
        }
      }
      await w.finish();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /** After a failed or cancelled load: nothing new is kept. */
  async abort(): Promise<void> {
    const w = this.writer;
    this.writer = null;
    await w?.abort();
  }
}
