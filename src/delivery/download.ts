// One file from the network into the store: streamed in chunks (never whole in memory), resumed with a Range
// request after a dropped connection or a reload, and verified against its sha256 before it is marked complete.

import { DeliveryError, isAbort, throwIfAborted } from './errors';
import { hashBlobPrefix, sha256FromHeader, sha256Stream } from './hash';
import { type FetchFn, type NetworkProbe, networkError, parseContentRange, safeGet, statusError } from './http';
import { type CachedFile, type HashSource, type Manifest, storedNameFor } from './manifest';
import type { FileStore, StoreWriter } from './store';

export interface DownloadJob {
  key: string;
  url: string;
  name: string;
  group: string;
  repo?: string;
  revision?: string;
  /** What is known before the download: the catalogue's or the Hub listing's size and sha256. */
  expected?: { size?: number; sha256?: string; source: HashSource };
}

export interface DownloadDeps {
  store: FileStore;
  manifest: Manifest;
  fetch: FetchFn;
  probe: NetworkProbe;
  /** Extra attempts after a dropped connection that made no progress (default 3). */
  retries?: number;
  /** Backoff base in ms (default 500; tests set 0). */
  retryDelayMs?: number;
  /** Flush and record progress every this many bytes (default 16 MiB), so a reload resumes near where it stopped. */
  checkpointBytes?: number;
  now?: () => number;
}

export interface DownloadEvents {
  /** Bytes stored so far and the total (null while unknown); `fresh` = bytes that came from the network now. */
  onProgress?(received: number, total: number | null, fresh: number): void;
  onState?(state: 'downloading' | 'verifying'): void;
  /** A note for the user (the server does not resume, a retry after a dropped connection). */
  onNote?(note: string): void;
}

const wait = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (ms <= 0) return resolve();
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(new DOMException('cancelled', 'AbortError')); }, { once: true });
});

/** The hash the server reports: the Hub's `X-Linked-Etag` (LFS sha256), else a strong ETag that is a sha256. */
function reportedSha256(res: Response): string | null {
  const linked = sha256FromHeader(res.headers.get('X-Linked-Etag'));
  if (linked) return linked;
  const etag = res.headers.get('ETag');
  return etag && !etag.startsWith('W/') ? sha256FromHeader(etag) : null;
}

/**
 * Makes `job` a complete, verified file in the store and returns its manifest record. A complete record is
 * returned at once (no network). Cancelling keeps the bytes stored so far (a later call resumes).
 */
export async function downloadFile(job: DownloadJob, deps: DownloadDeps, ev: DownloadEvents = {}, signal?: AbortSignal): Promise<CachedFile> {
  const { store, manifest } = deps;
  const now = deps.now ?? Date.now;
  const retries = deps.retries ?? 3, delay = deps.retryDelayMs ?? 500, checkpoint = deps.checkpointBytes ?? 16 << 20;
  throwIfAborted(signal);

  let rec = manifest.get(job.key);
  const expectedSha = job.expected?.sha256 ?? null;
  if (rec?.complete) {
    const actual = await store.size(rec.stored);
    if (actual === rec.size && (!expectedSha || rec.sha256 === expectedSha)) {
      rec.lastUsed = now();
      ev.onProgress?.(rec.received, rec.size, 0);
      return rec;
    }
    // Gone from storage, or verified against another hash than the one now expected: fetch it again.
    await store.remove(rec.stored);
    rec = undefined;
  }
  if (rec && expectedSha && rec.sha256 && rec.sha256 !== expectedSha) {
    await store.remove(rec.stored);
    rec = undefined;
  }
  if (!rec) {
    rec = {
      key: job.key, name: job.name, group: job.group, url: job.url, repo: job.repo, revision: job.revision,
      stored: storedNameFor(job.key, job.name), size: job.expected?.size ?? null, received: 0,
      sha256: expectedSha, hashSource: expectedSha ? job.expected!.source : null, complete: false,
      createdAt: now(), lastUsed: now(),
    };
    manifest.put(rec);
  }
  const r = rec;

  let hash = await sha256Stream();
  let offset = Math.min(r.received, (await store.size(r.stored)) ?? 0);
  if (offset > 0) {
    // Resume: the stored prefix goes through the hash first (a hash state cannot outlive a reload).
    const blob = await store.read(r.stored);
    if (!blob) offset = 0;
    else await hashBlobPrefix(hash, blob, offset, signal);
  }
  let writer: StoreWriter | null = null;
  let sinceCheckpoint = 0;
  const save = async () => {
    r.received = offset;
    await writer?.flush();
    await manifest.save();
    sinceCheckpoint = 0;
  };

  let failures = 0;
  try {
    for (;;) {
      throwIfAborted(signal);
      if (r.size !== null && offset === r.size) break; // everything is stored (a resumed, finished file)
      const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
      let res: Response;
      try {
        res = await safeGet(deps.fetch, job.url, job.name, headers, signal);
      } catch (e) {
        const err = await networkError(e, job.name, job.url, deps.probe, 'connecting');
        if (err instanceof DeliveryError && err.code === 'network' && failures < retries) {
          failures++;
          ev.onNote?.(`connection failed, retrying (${failures} of ${retries})`);
          await wait(delay * 2 ** (failures - 1), signal);
          continue;
        }
        throw err;
      }
      if (res.status === 416 && offset > 0 && r.size === null) {
        // The stored part may already be the whole file: Content-Range tells the size.
        const cr = parseContentRange(res.headers.get('Content-Range'));
        await res.body?.cancel().catch(() => undefined);
        if (cr?.total === offset) { r.size = offset; break; }
        throw statusError(416, job.name, job.url);
      }
      if (res.status >= 500 && failures < retries) {
        await res.body?.cancel().catch(() => undefined);
        failures++;
        ev.onNote?.(`server error ${res.status}, retrying (${failures} of ${retries})`);
        await wait(delay * 2 ** (failures - 1), signal);
        continue;
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel().catch(() => undefined);
        throw statusError(res.status, job.name, job.url);
      }

      // What the server says about the file: size, hash, validator.
      let start = 0;
      let total: number | null = null;
      if (res.status === 206) {
        const cr = parseContentRange(res.headers.get('Content-Range'));
        if (!cr || cr.start !== offset) {
          await res.body?.cancel().catch(() => undefined);
          throw new DeliveryError('http', job.name, `asked for bytes from ${offset}, the server sent Content-Range ${JSON.stringify(res.headers.get('Content-Range'))}`);
        }
        start = offset;
        total = cr.total;
      } else {
        const len = Number(res.headers.get('Content-Length'));
        total = Number.isSafeInteger(len) && len > 0 && !res.headers.get('Content-Encoding') ? len : null;
        if (offset > 0) ev.onNote?.('the server does not support resuming (no HTTP Range): starting this file again from the beginning');
      }
      const linkedSize = Number(res.headers.get('X-Linked-Size'));
      if (total === null && Number.isSafeInteger(linkedSize) && linkedSize > 0) total = linkedSize;
      const reported = reportedSha256(res);
      const etag = res.headers.get('ETag') ?? undefined;
      const changed =
        (reported && r.sha256 && reported !== r.sha256) ? `the server now reports sha256 ${reported}, but ${r.sha256} was ${r.hashSource === 'catalogue' ? 'expected (catalogue)' : 'recorded at the first download'}` :
        (total !== null && r.size !== null && total !== r.size) ? `the server now reports ${total} bytes, but ${r.size} were ${r.hashSource === 'catalogue' ? 'expected' : 'recorded at the first download'}` :
        (start > 0 && r.etag && etag && r.etag !== etag) ? `the file's ETag changed while it was half downloaded (${r.etag} → ${etag})` : null;
      if (changed) {
        await res.body?.cancel().catch(() => undefined);
        if (r.sha256 && (r.hashSource === 'catalogue' || r.hashSource === 'hub' || r.hashSource === 'first-download') && (reported || total !== null)) {
          throw new DeliveryError('upstream-changed', job.name, `${changed}. The file changed upstream; it is not taken silently. Delete this model in Storage to download the new version`);
        }
        // A plain URL whose content changed mid-download: the stored part is useless, start again.
        await store.remove(r.stored);
        offset = 0;
        r.received = 0;
        r.etag = undefined;
        r.sha256 = null; r.hashSource = null; r.size = null;
        continue;
      }
      if (reported && !r.sha256) { r.sha256 = reported; r.hashSource = 'hub'; }
      if (total !== null) r.size = total;
      if (start === 0) r.etag = etag;

      if (start === 0 && offset > 0) {
        // A whole body although a range was asked for: throw away the stored part and its hash.
        offset = 0;
        hash = await sha256Stream();
      }
      await writer?.close();
      writer = await store.openWriter(r.stored, offset);
      ev.onState?.('downloading');
      ev.onProgress?.(offset, r.size, 0);
      const reader = res.body!.getReader();
      let progressed = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (r.size !== null && offset + value.byteLength > r.size) {
            throw new DeliveryError('http', job.name, `the server sent more bytes than the ${r.size} it announced`);
          }
          await writer.write(value);
          hash.update(value);
          offset += value.byteLength;
          sinceCheckpoint += value.byteLength;
          progressed = true;
          ev.onProgress?.(offset, r.size, value.byteLength);
          if (sinceCheckpoint >= checkpoint) await save();
        }
      } catch (e) {
        await reader.cancel().catch(() => undefined);
        if (isAbort(e) || e instanceof DeliveryError) throw e;
        const err = await networkError(e, job.name, job.url, deps.probe);
        await save();
        if (err instanceof DeliveryError && err.code === 'network') {
          failures = progressed ? 0 : failures + 1;
          if (failures <= retries) {
            ev.onNote?.(`connection dropped at ${offset} bytes, resuming`);
            await wait(progressed ? 0 : delay * 2 ** (failures - 1), signal);
            continue;
          }
        }
        throw err;
      }
      if (r.size === null) r.size = offset; // no length announced: the end of the body is the end of the file
      if (offset < r.size) {
        // The body ended early (a proxy cut it): resume from here.
        await save();
        failures++;
        if (failures > retries) throw new DeliveryError('network', job.name, `the download keeps ending early (at ${offset} of ${r.size} bytes); try again later to resume`);
        ev.onNote?.(`the connection ended early at ${offset} of ${r.size} bytes, resuming`);
        continue;
      }
      break;
    }
    await save();
    await writer?.close();
    writer = null;

    ev.onState?.('verifying');
    const digest = hash.digest();
    if (r.sha256 && digest !== r.sha256) {
      await store.remove(r.stored);
      const expectedFrom = r.hashSource === 'catalogue' ? 'the catalogue' : r.hashSource === 'hub' ? 'the Hub' : 'the first download';
      manifest.delete(r.key);
      await manifest.save();
      throw new DeliveryError('corrupt', job.name, `the downloaded bytes have sha256 ${digest}, but ${expectedFrom} says ${r.sha256}: the file was corrupted on the way (or changed on the server) and has been discarded`);
    }
    if (!r.sha256) { r.sha256 = digest; r.hashSource = 'first-download'; }
    r.complete = true;
    r.received = offset;
    r.lastUsed = now();
    await manifest.save();
    return r;
  } catch (e) {
    // Keep what is stored (a resume continues from it); abort or failure alike.
    if (manifest.get(r.key)) {
      r.received = offset;
      await writer?.flush().catch(() => undefined);
      await manifest.save().catch(() => undefined);
    }
    throw e;
  } finally {
    await writer?.close().catch(() => undefined);
  }
}
