// Data derived from weight files (a text encoder's ONNX graph, quantized weights), kept between loads so the next
// start skips the derivation. The model cache (src/delivery/cache.ts, OPFS in the browser) is the store; entries
// are keyed by the derivation's tag and `from`: the sha256 of every input file plus every parameter the result
// depends on, so a changed input or parameter never reuses stale output. Only inputs whose sha256 is known (a
// verified cached download) can be keyed: files from local disk are derived again on each load.

/** A derived entry being written: nothing is visible until `commit()`. */
export interface DerivedWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the entry visible, replacing an older one of the same key. */
  commit(): Promise<void>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

export interface DerivedStore {
  getDerived(tag: string, from: string[]): Promise<Blob | null>;
  /** `inputs`: the sha256 of the input files (the entry is deleted with any of them). */
  writeDerived(tag: string, from: string[], opts: { label?: string; inputs?: string[] }): Promise<DerivedWriter>;
  removeDerived(tag: string, from: string[]): Promise<void>;
}

/** Where one load keeps its derived data: the store and the sha256 of each input file, in a fixed order. */
export interface DerivedContext {
  store: DerivedStore;
  /** sha256 of the input files this derivation reads. */
  inputs: string[];
  /** Parameters the derivation depends on besides its input files (LoRA strengths, the weight format). */
  params: string[];
}

/**
 * A 32-bit check of a derived entry's bytes (FNV-1a over little-endian u32 words, with a right shift folded in
 * after each word so high bits reach the low ones; `bytes.byteLength` must be a multiple of 4): catches flipped or
 * lost stored bytes, not an attacker (the store is this origin's own). `seed` continues an earlier check, so
 * checksum32(b, checksum32(a)) = checksum32(a followed by b).
 */
export function checksum32(bytes: Uint8Array, seed = 0x811c9dc5): number {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`checksum32: ${bytes.byteLength} bytes is not whole words`);
  const words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : new Uint32Array(bytes.slice().buffer);
  let h = seed;
  for (let i = 0; i < words.length; i++) {
    h = Math.imul(h ^ words[i], 16777619);
    h ^= h >>> 13;
  }
  return h >>> 0;
}
