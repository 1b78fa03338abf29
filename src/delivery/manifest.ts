// The cache manifest: what is stored (source, revision, size, sha256, last use), what is half-downloaded (for
// resume), and derived data (keyed by the hashes of what it was made from). Kept in the store in two slots,
// manifest.json and manifest.1.json, written alternately with a sequence number: a write cut short (a worker ended
// mid-save, a crash) can only spoil the slot being written, and the other still holds the state before it.

import type { FileStore } from './store';

export const MANIFEST_FILE = 'manifest.json';
/** The two slots, by `seq % 2` (manifest.json alone, with no seq, is the format before slots: seq 0). */
export const MANIFEST_SLOTS = [MANIFEST_FILE, 'manifest.1.json'] as const;
const VERSION = 1;

/** Where a cached file's sha256 came from. */
export type HashSource = 'catalogue' | 'hub' | 'first-download' | 'derived';

export interface CachedFile {
  /** The cache key: the source URL (for Hub files the resolve URL with its revision), or `derived:…`. */
  key: string;
  /** What the UI calls it, e.g. `Lykon/dreamshaper-8/unet/diffusion_pytorch_model.fp16.safetensors`. */
  name: string;
  /** The model it belongs to, for the storage manager (a Hub repo, a host, or a derivation tag). */
  group: string;
  url?: string;
  repo?: string;
  revision?: string;
  /** The commit the Hub resolved `revision` to, when it said. */
  commit?: string;
  /** Name of the file in the store. */
  stored: string;
  /** Total byte size, once known. */
  size: number | null;
  /** Bytes stored so far (a prefix of the file). */
  received: number;
  /** Expected (catalogue, Hub) or pinned (computed on the first download) sha256, lower-case hex. */
  sha256: string | null;
  hashSource: HashSource | null;
  /** All bytes stored and the sha256 checked. */
  complete: boolean;
  /** The server's validator (ETag) when the download started: a different one on resume means the file changed. */
  etag?: string;
  /** Derived data: the derivation, its key parts, and the sha256 of its input files (deleted with any of them). */
  derived?: { tag: string; from: string[]; inputs?: string[] };
  createdAt: number;
  lastUsed: number;
}

interface ManifestData {
  version: number;
  /** Incremented on every save; the slot with the highest valid seq is the current state. */
  seq?: number;
  files: Record<string, CachedFile>;
  /** Cached Hub repository listings (so a repo source resolves offline): `<hub> <repo>@<revision>` → entries. */
  listings: Record<string, { at: number; commit?: string; entries: { path: string; size: number; sha256?: string }[] }>;
}

/** A 53-bit string hash (cyrb53), for short stable store names. */
function hash53(s: string): string {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/** The store name of a key: a hash plus the readable tail of the name (only [A-Za-z0-9._-]). */
export function storedNameFor(key: string, name: string): string {
  const tail = (name.split('/').pop() ?? 'file').replace(/[^A-Za-z0-9._-]/g, '_').slice(-60);
  return `${hash53(key)}-${tail}`;
}

export class Manifest {
  private data: ManifestData = { version: VERSION, files: {}, listings: {} };
  private seq = 0;
  /** False when a slot could not be read (torn or corrupt): then stored files it might list are never pruned. */
  private trustworthy = true;
  private saving: Promise<void> = Promise.resolve();

  private constructor(private readonly store: FileStore) {}

  /**
   * Reads the newest valid slot. With none stored the manifest starts empty; with a slot present but unreadable
   * it starts from the other slot (or empty) and `prune` keeps every stored file, so nothing is lost to a torn write.
   */
  static async open(store: FileStore): Promise<Manifest> {
    const m = new Manifest(store);
    for (const slot of MANIFEST_SLOTS) {
      const text = await store.readText(slot).catch(() => null);
      if (text === null) continue;
      const d = parseManifest(text);
      if (!d) {
        m.trustworthy = false;
        continue;
      }
      const seq = d.seq ?? 0;
      if (seq >= m.seq) {
        m.seq = seq;
        m.data = { version: VERSION, seq, files: d.files, listings: d.listings ?? {} };
      }
    }
    return m;
  }

  get(key: string): CachedFile | undefined {
    return this.data.files[key];
  }

  all(): CachedFile[] {
    return Object.values(this.data.files);
  }

  put(rec: CachedFile): void {
    this.data.files[rec.key] = rec;
  }

  delete(key: string): void {
    delete this.data.files[key];
  }

  listing(key: string) {
    return this.data.listings[key];
  }

  putListing(key: string, value: ManifestData['listings'][string]): void {
    this.data.listings[key] = value;
  }

  deleteListingsOf(repo: string): void {
    for (const k of Object.keys(this.data.listings)) if (k.split(' ')[1]?.startsWith(`${repo}@`)) delete this.data.listings[k];
  }

  /** Writes the manifest into the older slot (writes are queued, so the last state always wins). */
  save(): Promise<void> {
    this.seq += 1;
    const text = JSON.stringify({ ...this.data, seq: this.seq });
    const slot = MANIFEST_SLOTS[this.seq % 2];
    this.saving = this.saving.catch(() => undefined).then(() => this.store.writeText(slot, text));
    return this.saving;
  }

  /**
   * Removes stored files the manifest does not know (left by a crash or an older version). Skipped when a slot was
   * unreadable: the lost state may have listed files the readable one does not know yet.
   */
  async prune(): Promise<void> {
    if (!this.trustworthy) return;
    const known = new Set<string>([...this.all().map((f) => f.stored), ...MANIFEST_SLOTS]);
    for (const name of await this.store.list()) {
      if (!known.has(name)) await this.store.remove(name);
    }
  }
}

/** A manifest slot's content, or null when it is not a manifest of this version (torn, corrupt, other version). */
function parseManifest(text: string): ManifestData | null {
  try {
    const d = JSON.parse(text) as ManifestData;
    return d && typeof d === 'object' && d.version === VERSION && typeof d.files === 'object' && d.files !== null ? d : null;
  } catch {
    return null;
  }
}
