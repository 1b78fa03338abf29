// Streaming sha256 (hash-wasm): WebCrypto's digest() needs the whole file in one buffer, impossible for multi-GB
// weights. A hasher is fed chunk by chunk as they arrive; a resumed download first re-reads the stored prefix.
import { createSHA256 } from 'hash-wasm';

export interface StreamingHash {
  update(bytes: Uint8Array): void;
  /** Lower-case hex. */
  digest(): string;
}

export async function sha256Stream(): Promise<StreamingHash> {
  const h = await createSHA256();
  h.init();
  return { update: (b) => void h.update(b), digest: () => h.digest('hex') };
}

/** Feeds `blob[0, length)` to `hash`, `chunk` bytes at a time (never the whole blob at once). */
export async function hashBlobPrefix(hash: StreamingHash, blob: Blob, length: number, signal?: AbortSignal, chunk = 8 << 20): Promise<void> {
  for (let at = 0; at < length; at += chunk) {
    if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
    hash.update(new Uint8Array(await blob.slice(at, Math.min(length, at + chunk)).arrayBuffer()));
  }
}

/** A well-formed lower-case hex sha256 in a header value (`"abc…"`, `W/"…"`), or null. */
export function sha256FromHeader(v: string | null): string | null {
  if (!v) return null;
  const m = /^(?:W\/)?"?([0-9a-fA-F]{64})"?$/.exec(v.trim());
  return m ? m[1].toLowerCase() : null;
}
