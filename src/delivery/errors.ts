// Typed errors of model delivery (download, cache, verification). Each names the file and says what to do;
// the worker maps `kind` and `code` to a user message (src/worker/errors.ts), never the text.

import { type ErrorKind, KindedError } from '../errors';

export type DeliveryErrorCode =
  | 'insecure-url' // not https (and not localhost), or carries credentials
  | 'bad-source' // a source string that is not a URL, a Hub repo or a Hub file
  | 'offline' // the browser is offline
  | 'cors' // the server answers, but without CORS headers the page may read
  | 'network' // the connection failed or dropped and retries did not help
  | 'not-found' // HTTP 404
  | 'access-denied' // HTTP 401/403: gated or private
  | 'http' // any other HTTP status
  | 'no-range' // the server ignores Range (only an error where a range is indispensable)
  | 'corrupt' // the sha256 of the downloaded bytes is not the expected one (the file was discarded)
  | 'upstream-changed' // the Hub now reports another hash or size than the one pinned at the first download
  | 'quota' // not enough storage for the download
  | 'storage' // OPFS failed (not available, full, locked)
  | 'busy'; // the file is being downloaded (cannot delete it now)

const KIND: Record<DeliveryErrorCode, ErrorKind> = {
  'insecure-url': 'invalid-source', 'bad-source': 'invalid-source', offline: 'network', cors: 'network', network: 'network',
  'not-found': 'network', 'access-denied': 'network', http: 'network', 'no-range': 'network', corrupt: 'network',
  'upstream-changed': 'network', quota: 'storage', storage: 'storage', busy: 'storage',
};

export class DeliveryError extends KindedError {
  constructor(
    readonly code: DeliveryErrorCode,
    /** The file (or source) concerned. */
    file: string,
    message: string,
    options: { cause?: unknown; httpStatus?: number } = {},
  ) {
    super(KIND[code], `${file}: ${message}`, { ...options, file });
    this.name = 'DeliveryError'; // explicit: minified builds rename classes
  }
}

export function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'AbortError';
}

export function abortError(): DOMException {
  return new DOMException('cancelled', 'AbortError');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError();
}
