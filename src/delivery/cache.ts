// The model cache: downloads files into the store (bounded parallelism, a storage-quota check first, sha256
// verified, resumable), serves them back as lazily read Blobs, resolves Hub repos to their files, lists and deletes
// what is stored, and keeps derived data (a text encoder's ONNX graph, quantized weights) keyed by the hashes of
// its inputs. Runs in the worker; no DOM.

import { abortError, DeliveryError, isAbort, throwIfAborted } from './errors';
import { browserProbe, type FetchFn, type NetworkProbe } from './http';
import { downloadFile, type DownloadJob } from './download';
import { listHubFiles } from './hub';
import { type CachedFile, Manifest, storedNameFor } from './manifest';
import { DEFAULT_HUB, hubFileOf, hubFileUrl } from './hub-urls';
import { pickModelFiles, type ListedFile, type PickedFiles } from './pick';
import { type DownloadProgress, ProgressTracker } from './progress';
import type { FileStore } from './store';
import type { DerivedStore, DerivedWriter } from '../weights/derived';

/** One file to have in the cache. */
export interface FileRequest {
  url: string;
  name: string;
  /** The expected sha256, when known before the download. */
  sha256?: string;
  /** Where `sha256` comes from (default: the catalogue). */
  sha256Source?: 'catalogue' | 'hub';
  size?: number;
}

export interface StorageEstimate {
  usage: number;
  quota: number;
}

export interface CacheOptions {
  store: FileStore;
  fetch?: FetchFn;
  probe?: NetworkProbe;
  /** navigator.storage.estimate in the browser. */
  estimate?: () => Promise<StorageEstimate>;
  /** Relative URLs (this app's own /tiny-model/) resolve against it. */
  baseUrl?: string;
  hub?: string;
  /** Files downloaded at once (default 3). */
  parallel?: number;
  retryDelayMs?: number;
  checkpointBytes?: number;
}

export interface StoredModel {
  group: string;
  bytes: number;
  files: { name: string; url?: string; size: number | null; received: number; complete: boolean; sha256: string | null; hashSource: string | null; revision?: string }[];
  lastUsed: number;
  complete: boolean;
  /** Of `bytes`, data derived from the files (a text-encoder graph, quantized weights): made again when deleted. */
  derivedBytes: number;
}

export interface StorageReport {
  models: StoredModel[];
  usage: number | null;
  quota: number | null;
}

export interface ResolvedRepo extends PickedFiles {
  files: FileRequest[];
  configFiles: FileRequest[];
}

const fmt = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);

/** Runs `tasks` with at most `limit` at once; the first failure stops new starts and is thrown after all settle. */
async function pool<T>(items: T[], limit: number, run: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | null = null;
  const worker = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try { await run(items[i], i); } catch (e) { failure ??= { e }; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { e: unknown }).e;
}

export class ModelCache implements DerivedStore {
  private readonly active = new Set<string>();
  private derivedSerial = 0;
  private readonly fetch: FetchFn;
  private readonly probe: NetworkProbe;
  readonly hub: string;

  private constructor(private readonly opts: CacheOptions, readonly manifest: Manifest) {
    this.fetch = opts.fetch ?? ((u, i) => fetch(u, i));
    this.probe = opts.probe ?? browserProbe(this.fetch);
    this.hub = opts.hub ?? DEFAULT_HUB;
  }

  static async open(opts: CacheOptions): Promise<ModelCache> {
    const m = await Manifest.open(opts.store);
    await m.prune();
    return new ModelCache(opts, m);
  }

  /** A URL as the cache keys it: relative ones (this app's own /tiny-model/) resolved against `baseUrl`. */
  absolute(url: string): string {
    return new URL(url, this.opts.baseUrl).href;
  }

  private groupOf(url: string): string {
    const h = hubFileOf(url, this.hub);
    if (h) return h.repo;
    const u = new URL(url);
    return u.origin === (this.opts.baseUrl ? new URL(this.opts.baseUrl).origin : '') ? u.pathname.split('/').slice(0, -1).join('/') || '/' : u.host;
  }

  /** The Hub listing of a repo at a revision (cached; `refresh` asks the Hub again). */
  async listing(repo: string, revision: string, signal?: AbortSignal, refresh = false): Promise<ListedFile[]> {
    const key = `${this.hub} ${repo}@${revision}`;
    const cached = this.opts.store && this.manifest.listing(key);
    if (cached && !refresh) return cached.entries;
    const entries = await listHubFiles(this.fetch, this.probe, this.hub, repo, revision, '', signal);
    this.manifest.putListing(key, { at: Date.now(), entries });
    await this.manifest.save();
    return entries;
  }

  /** A Hub repo (or one subfolder of it) → the files that make the model. Offline, the cached listing answers. */
  async resolveRepo(repo: string, revision: string, subfolder: string, signal?: AbortSignal): Promise<ResolvedRepo> {
    const where = `${repo}${revision !== 'main' ? `@${revision}` : ''}${subfolder ? `/${subfolder}` : ''}`;
    let listing: ListedFile[];
    try {
      listing = await this.listing(repo, revision, signal);
    } catch (e) {
      const cached = this.manifest.listing(`${this.hub} ${repo}@${revision}`);
      if (!cached || isAbort(e)) throw e;
      listing = cached.entries;
    }
    const picked = pickModelFiles(listing, subfolder, where);
    const req = (f: ListedFile): FileRequest => ({
      url: hubFileUrl(this.hub, repo, revision, f.path), name: `${repo}/${f.path}`, size: f.size, ...(f.sha256 ? { sha256: f.sha256, sha256Source: 'hub' as const } : {}),
    });
    return { ...picked, files: picked.weights.map(req), configFiles: picked.configs.map(req) };
  }

  /** Size and sha256 of Hub files from the repo listing (one request per repo), where the request lacks them. */
  private async fillFromListing(reqs: FileRequest[], signal?: AbortSignal): Promise<FileRequest[]> {
    const out: FileRequest[] = [];
    for (const r of reqs) {
      const h = hubFileOf(r.url, this.hub);
      if (!h || (r.size !== undefined && r.sha256) || this.manifest.get(r.url)?.complete) { out.push(r); continue; }
      let listing: ListedFile[] | null = null;
      try {
        listing = await this.listing(h.repo, h.revision, signal);
      } catch (e) {
        if (isAbort(e)) throw e; // otherwise: the download itself reports what is wrong
      }
      const f = listing?.find((x) => x.path === h.path);
      out.push({ ...r, size: r.size ?? f?.size, ...(r.sha256 ? {} : f?.sha256 ? { sha256: f.sha256, sha256Source: 'hub' as const } : {}) });
    }
    return out;
  }

  /**
   * Makes every requested file a complete, verified file in the cache and returns them as Blobs (in order).
   * Checks the storage quota first; downloads `parallel` files at once; a file whose bytes do not match its
   * sha256 is discarded and fetched once more. Cancelling stops the downloads and keeps what is stored.
   */
  async ensure(requests: FileRequest[], signal?: AbortSignal, onProgress?: (p: DownloadProgress) => void): Promise<Blob[]> {
    throwIfAborted(signal);
    const abs = requests.map((r) => ({ ...r, url: this.absolute(r.url) }));
    const reqs = await this.fillFromListing(abs, signal);
    await this.checkQuota(reqs);
    const tracker = new ProgressTracker(reqs.map((r) => r.name), (p) => onProgress?.(p));
    const blobs: Blob[] = new Array(reqs.length);
    const deps = { store: this.opts.store, manifest: this.manifest, fetch: this.fetch, probe: this.probe, retryDelayMs: this.opts.retryDelayMs, checkpointBytes: this.opts.checkpointBytes };
    await pool(reqs, this.opts.parallel ?? 3, async (r, i) => {
      const h = hubFileOf(r.url, this.hub);
      const job: DownloadJob = {
        key: r.url, url: r.url, name: r.name, group: this.groupOf(r.url), repo: h?.repo, revision: h?.revision,
        expected: r.sha256 || r.size !== undefined ? { sha256: r.sha256, size: r.size, source: r.sha256Source ?? (r.sha256 ? 'catalogue' : 'hub') } : undefined,
      };
      if (this.active.has(job.key)) throw new DeliveryError('busy', r.name, 'this file is already being downloaded');
      this.active.add(job.key);
      const wasComplete = this.manifest.get(job.key)?.complete;
      try {
        const events = {
          onProgress: (received: number, total: number | null, fresh: number) => tracker.update(i, { received, total, state: wasComplete ? 'cached' : 'downloading' }, fresh),
          onState: (state: 'downloading' | 'verifying') => tracker.update(i, { state }, 0, true),
          onNote: (note: string) => tracker.update(i, { note }, 0, true),
        };
        let rec: CachedFile;
        try {
          rec = await downloadFile(job, deps, events, signal);
        } catch (e) {
          if (!(e instanceof DeliveryError && e.code === 'corrupt')) throw e;
          tracker.update(i, { note: `${e.message}; fetching it again` }, 0, true);
          rec = await downloadFile(job, deps, events, signal);
        }
        const blob = await this.opts.store.read(rec.stored);
        if (!blob || blob.size !== rec.size) throw new DeliveryError('storage', r.name, 'the stored file vanished or changed size after it was verified');
        blobs[i] = blob;
        tracker.update(i, { state: wasComplete ? 'cached' : 'done', received: blob.size, total: blob.size }, 0, true);
      } catch (e) {
        tracker.update(i, { state: isAbort(e) ? 'cancelled' : 'error' }, 0, true);
        throw e;
      } finally {
        this.active.delete(job.key);
      }
    });
    await this.manifest.save();
    onProgress?.(tracker.snapshot());
    return blobs;
  }

  /** Refuses to start when the bytes still to download do not fit in what the browser grants this site. */
  private async checkQuota(reqs: FileRequest[]): Promise<void> {
    if (!this.opts.estimate) return;
    let needed = 0;
    for (const r of reqs) {
      const rec = this.manifest.get(r.url);
      if (rec?.complete) continue;
      const size = r.size ?? rec?.size;
      if (size != null) needed += size - (rec?.received ?? 0);
    }
    if (needed <= 0) return;
    const { usage, quota } = await this.opts.estimate();
    const free = quota - usage;
    if (needed > free) {
      throw new DeliveryError('quota', 'model download',
        `needs ${fmt(needed)} more storage, but this site may use only ${fmt(free)} more (${fmt(usage)} of ${fmt(quota)} used). ` +
        'Delete models you do not need in Storage, free disk space (browsers grant a share of the free disk), or install the app, which often raises the limit');
    }
  }

  /** What is stored, grouped by model, with the browser's usage and quota. */
  async report(): Promise<StorageReport> {
    const groups = new Map<string, StoredModel>();
    for (const f of this.manifest.all()) {
      const g = groups.get(f.group) ?? { group: f.group, bytes: 0, derivedBytes: 0, files: [], lastUsed: 0, complete: true };
      g.bytes += f.complete ? (f.size ?? 0) : f.received;
      if (f.derived) g.derivedBytes += f.size ?? 0;
      g.files.push({ name: f.name, url: f.url, size: f.size, received: f.received, complete: f.complete, sha256: f.sha256, hashSource: f.hashSource, revision: f.revision });
      g.lastUsed = Math.max(g.lastUsed, f.lastUsed);
      g.complete &&= f.complete;
      groups.set(f.group, g);
    }
    const est = await this.opts.estimate?.().catch(() => null);
    return { models: [...groups.values()].sort((a, b) => b.lastUsed - a.lastUsed), usage: est?.usage ?? null, quota: est?.quota ?? null };
  }

  /**
   * Deletes every stored file of a model (its group), and every derived entry made from one of those files (shown
   * with this model, or with another input's); refused while one of them is downloading.
   */
  async remove(group: string): Promise<void> {
    const files = this.manifest.all().filter((f) => f.group === group);
    if (files.some((f) => this.active.has(f.key))) throw new DeliveryError('busy', group, 'it is downloading now; cancel the download first');
    const hashes = new Set(files.flatMap((f) => (!f.derived && f.sha256 ? [f.sha256] : [])));
    const derived = this.manifest.all().filter((f) => f.group !== group && f.derived?.inputs?.some((h) => hashes.has(h)));
    for (const f of [...files, ...derived]) {
      await this.opts.store.remove(f.stored);
      this.manifest.delete(f.key);
    }
    this.manifest.deleteListingsOf(group);
    await this.manifest.save();
  }

  async removeAll(): Promise<void> {
    for (const g of new Set(this.manifest.all().map((f) => f.group))) await this.remove(g);
  }

  /** The Blob of a file stored complete, or null; never downloads (the memory planner reads headers from it). */
  async storedBlob(url: string): Promise<Blob | null> {
    const rec = this.manifest.get(this.absolute(url));
    if (!rec?.complete) return null;
    const blob = await this.opts.store.read(rec.stored);
    return blob && blob.size === rec.size ? blob : null;
  }

  /** Whether a file is stored complete (the UI's offline indicator asks before loading). */
  isComplete(url: string): boolean {
    return Boolean(this.manifest.get(this.absolute(url))?.complete);
  }

  // ------------------------------------------------------------------ derived data

  private derivedKey(tag: string, from: string[]): string {
    return `derived:${tag}:${from.join(',')}`;
  }

  /** The model a derived entry is shown with: the group of its first input file the cache holds. */
  private groupOfInputs(inputs: string[]): string | null {
    for (const sha of inputs) {
      const f = this.manifest.all().find((x) => !x.derived && x.sha256 === sha);
      if (f) return f.group;
    }
    return null;
  }

  /**
   * Streams data derived from cached files (a text encoder's ONNX graph, quantized weights) into the store, so the
   * next start skips the derivation. `from` keys it: the sha256 of each input plus every parameter the derivation
   * depends on, so a changed input gives another key. `inputs` = the input files' sha256: the entry is shown with
   * their model in the storage manager and deleted with any of them. Nothing is visible until `commit()`; a
   * commit replaces an entry of the same key (written under another store name, so the old one stays readable until
   * then); `abort()` leaves nothing behind.
   */
  async writeDerived(tag: string, from: string[], opts: { label?: string; inputs?: string[] } = {}): Promise<DerivedWriter> {
    const key = this.derivedKey(tag, from);
    const stored = storedNameFor(`${key}#${Date.now()}.${++this.derivedSerial}`, `${tag}.bin`);
    const w = await this.opts.store.openWriter(stored, 0);
    let size = 0;
    let open = true;
    const close = async () => {
      if (!open) return;
      open = false;
      await w.close();
    };
    return {
      write: async (bytes) => {
        if (!open) throw new Error(`derived data ${tag}: write after commit or abort`);
        await w.write(bytes);
        size += bytes.byteLength;
      },
      commit: async () => {
        await close();
        const old = this.manifest.get(key);
        const now = Date.now();
        const inputs = opts.inputs ?? [];
        this.manifest.put({
          key, name: opts.label ?? tag, group: this.groupOfInputs(inputs) ?? `derived: ${tag}`, stored, size, received: size, sha256: null,
          hashSource: 'derived', complete: true, derived: { tag, from, inputs }, createdAt: now, lastUsed: now,
        });
        await this.manifest.save();
        if (old && old.stored !== stored) await this.opts.store.remove(old.stored);
      },
      abort: async () => {
        await close().catch(() => undefined);
        await this.opts.store.remove(stored).catch(() => undefined);
      },
    };
  }

  /** `writeDerived` of data that is already whole (e.g. a graph's bytes), in 8 MiB writes. */
  async putDerived(tag: string, from: string[], data: Uint8Array | Blob, opts: { label?: string; inputs?: string[] } = {}): Promise<void> {
    const w = await this.writeDerived(tag, from, opts);
    const chunk = 8 << 20;
    const size = data instanceof Blob ? data.size : data.byteLength;
    try {
      for (let at = 0; at < size; at += chunk) {
        await w.write(data instanceof Blob ? new Uint8Array(await data.slice(at, at + chunk).arrayBuffer()) : data.subarray(at, at + chunk));
      }
    } catch (e) {
      await w.abort();
      throw e;
    }
    await w.commit();
  }

  /** The derived data stored under this tag and these inputs, or null. */
  async getDerived(tag: string, from: string[]): Promise<Blob | null> {
    const rec = this.manifest.get(this.derivedKey(tag, from));
    if (!rec) return null;
    const blob = await this.opts.store.read(rec.stored);
    if (!blob || blob.size !== rec.size) return null;
    rec.lastUsed = Date.now();
    return blob;
  }

  /** Forgets a derived entry (found corrupt by its reader, who derives it again). */
  async removeDerived(tag: string, from: string[]): Promise<void> {
    const rec = this.manifest.get(this.derivedKey(tag, from));
    if (!rec) return;
    this.manifest.delete(rec.key);
    await this.manifest.save();
    await this.opts.store.remove(rec.stored);
  }

  /** The sha256 the cache recorded for a stored file (the input key of derived data). */
  sha256Of(url: string): string | null {
    return this.manifest.get(this.absolute(url))?.sha256 ?? null;
  }
}

