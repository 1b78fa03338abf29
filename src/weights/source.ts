// Byte sources: random access to a weight file without ever holding the whole file in memory.
// Tensors are read one at a time (`read(offset, length)`), so a multi-GB checkpoint never becomes one ArrayBuffer.

import { WeightFileError } from './errors';

export interface ByteSource {
  /** File name or URL, used in every error message. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * The content's sha256 (lower-case hex) when known: a verified download of the model cache. It keys data derived
   * from the file (src/weights/derived.ts); files without it are derived again on each load.
   */
  readonly sha256?: string;
  /** Exactly `length` bytes starting at `offset` (rejects a range outside [0, size]). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Throws unless [offset, offset+length) lies inside a file of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeightFileError('bad-offsets', name, `invalid read range offset=${offset} length=${length}`);
  }
  if (offset + length > size) {
    throw new WeightFileError(
      'truncated', name,
      `expected ${length} bytes at offset ${offset}, but the file has only ${size} bytes`,
    );
  }
}

/** A Blob or File (an <input type=file> pick, a drag-and-drop, an OPFS file): `slice()` is lazy. */
export function blobSource(blob: Blob, name?: string, sha256?: string): ByteSource {
  const label = name ?? ((blob as File).name || 'blob');
  return {
    name: label,
    size: blob.size,
    ...(sha256 ? { sha256 } : {}),
    async read(offset, length) {
      checkRange(label, blob.size, offset, length);
      if (length === 0) return new Uint8Array(0);
      let buf: ArrayBuffer;
      try {
        buf = await blob.slice(offset, offset + length).arrayBuffer();
      } catch (e) {
        throw new WeightFileError('io', label, `cannot read bytes ${offset}–${offset + length}: ${String(e)}`, { cause: e });
      }
      if (buf.byteLength !== length) {
        throw new WeightFileError('truncated', label, `expected ${length} bytes at offset ${offset}, got ${buf.byteLength} (file changed on disk?)`);
      }
      return new Uint8Array(buf);
    },
  };
}

/** A file in the Origin Private File System (where downloaded weights are stored). */
export async function opfsSource(handle: FileSystemFileHandle): Promise<ByteSource> {
  let file: File;
  try {
    file = await handle.getFile();
  } catch (e) {
    throw new WeightFileError('io', handle.name, `cannot open the stored file: ${String(e)}`, { cause: e });
  }
  return blobSource(file, handle.name);
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface UrlSourceOptions {
  /** Injected for tests; defaults to the global fetch. */
  fetch?: FetchFn;
  /** A label for messages (defaults to the URL). */
  name?: string;
  /** Cancels pending requests; the AbortError propagates unchanged (not a WeightFileError). */
  signal?: AbortSignal;
  /** Extra attempts after a network error or HTTP 5xx/429 (default 2), with 250 ms · 4^attempt backoff. */
  retries?: number;
  /** Backoff base in ms (tests set 0). */
  retryDelayMs?: number;
}

function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'AbortError';
}

function httpStatusMessage(status: number): string {
  if (status === 404) return 'not found (HTTP 404): check the URL, repository and file name';
  if (status === 401 || status === 403) {
    return `access denied (HTTP ${status}): the file may be gated or private and needs a login/token`;
  }
  if (status === 416) return 'the server rejected the byte range (HTTP 416): the file is smaller than expected';
  return `unexpected HTTP status ${status}`;
}

/** Parses `Content-Range: bytes a-b/total` (total may be `*`). */
function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  if (!v) return null;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

/**
 * A remote file read with HTTP Range requests (single range `bytes=a-b`, CORS-safelisted, no preflight).
 * The size comes from the Content-Range of a first 1-byte range request, which also proves the server honours
 * ranges: a server that answers 200 (whole body) is refused rather than downloading gigabytes into memory.
 */
export async function openUrlSource(url: string, options: UrlSourceOptions = {}): Promise<ByteSource> {
  const doFetch: FetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const name = options.name ?? url;

  const retries = options.retries ?? 2, delay = options.retryDelayMs ?? 250;

  async function get(start: number, endInclusive: number): Promise<Response> {
    let res: Response | null = null;
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= retries;
      try {
        res = await doFetch(url, { headers: { Range: `bytes=${start}-${endInclusive}` }, signal: options.signal });
      } catch (e) {
        if (isAbort(e)) throw e;
        if (!last) { await new Promise((r) => setTimeout(r, delay * 4 ** attempt)); continue; }
        throw new WeightFileError(
          'io', name,
          `network error while fetching bytes ${start}–${endInclusive} (offline, blocked by CORS, or the server closed the connection): ${String(e)}`,
          { cause: e },
        );
      }
      if ((res.status >= 500 || res.status === 429) && !last) {
        await res.body?.cancel().catch(() => undefined);
        await new Promise((r) => setTimeout(r, delay * 4 ** attempt));
        continue;
      }
      break;
    }
    if (res.status === 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new WeightFileError(
        'no-range', name,
        'the server ignores HTTP Range requests (answered 200 with the whole file instead of 206 Partial Content); ' +
          'weights must be served with Range support (or downloaded and opened as a local file)',
      );
    }
    if (res.status !== 206) {
      await res.body?.cancel().catch(() => undefined);
      throw new WeightFileError('io', name, httpStatusMessage(res.status), { httpStatus: res.status });
    }
    return res;
  }

  const first = await get(0, 0);
  const cr = parseContentRange(first.headers.get('Content-Range'));
  await first.arrayBuffer().catch(() => undefined);
  if (!cr || cr.start !== 0 || cr.end !== 0 || cr.total === null || !Number.isSafeInteger(cr.total)) {
    throw new WeightFileError(
      'no-range', name,
      `expected a Content-Range header "bytes 0-0/<size>" on the 206 response, found ${JSON.stringify(first.headers.get('Content-Range'))}`,
    );
  }
  const size = cr.total;

  return {
    name,
    size,
    async read(offset, length) {
      checkRange(name, size, offset, length);
      if (length === 0) return new Uint8Array(0);
      const res = await get(offset, offset + length - 1);
      const got = parseContentRange(res.headers.get('Content-Range'));
      if (!got || got.start !== offset || got.end !== offset + length - 1) {
        await res.body?.cancel().catch(() => undefined);
        throw new WeightFileError(
          'io', name,
          `asked for bytes ${offset}–${offset + length - 1}, the server sent Content-Range ${JSON.stringify(res.headers.get('Content-Range'))}`,
        );
      }
      let buf: ArrayBuffer;
      try {
        buf = await res.arrayBuffer();
      } catch (e) {
        if (isAbort(e)) throw e;
        throw new WeightFileError('io', name, `download interrupted at bytes ${offset}–${offset + length - 1}: ${String(e)}`, { cause: e });
      }
      if (buf.byteLength !== length) {
        throw new WeightFileError('truncated', name, `expected ${length} bytes at offset ${offset}, received ${buf.byteLength}`);
      }
      return new Uint8Array(buf);
    },
  };
}

/** An in-memory file (tests, small generated files). */
export function bytesSource(bytes: Uint8Array, name = 'memory'): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.slice(offset, offset + length);
    },
  };
}
