// HTTP for downloads: credential-free CORS requests, and failures turned into DeliveryErrors that say what
// happened (offline, CORS, 404, gated/private, other status) and what to do.

import { DeliveryError, isAbort } from './errors';
import { checkSafeUrl } from './hub-urls';

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/** Tells "offline" and "blocked by CORS" apart from other network failures, after a fetch threw. */
export interface NetworkProbe {
  online(): boolean;
  /** Whether the server answers at all (a no-cors request succeeds even when CORS headers are missing). */
  reachable(url: string): Promise<boolean>;
}

export function browserProbe(doFetch: FetchFn): NetworkProbe {
  return {
    online: () => (typeof navigator === 'undefined' ? true : navigator.onLine !== false),
    reachable: (url) => doFetch(url, { mode: 'no-cors', credentials: 'omit', cache: 'no-store', method: 'GET' })
      .then((r) => { void r.body?.cancel().catch(() => undefined); return true; }, () => false),
  };
}

export const GATED_HINT =
  'The repository is gated or private: open it on huggingface.co, accept its licence or ask for access; ' +
  'this app never sends a login or token, so then download the files there and open them here as local files.';

/** The DeliveryError for a non-success HTTP status. */
export function statusError(status: number, name: string, url: string): DeliveryError {
  const o = { httpStatus: status };
  if (status === 404) return new DeliveryError('not-found', name, `not found (HTTP 404). Check the repository, revision and file name (${url})`, o);
  if (status === 401 || status === 403) return new DeliveryError('access-denied', name, `access denied (HTTP ${status}). ${GATED_HINT}`, o);
  if (status === 416) return new DeliveryError('http', name, 'the server rejected the byte range (HTTP 416): the file is smaller than the part already stored', o);
  if (status === 429) return new DeliveryError('http', name, 'the server asks to slow down (HTTP 429); try again in a minute', o);
  return new DeliveryError('http', name, `the server answered HTTP ${status}`, o);
}

/**
 * Classifies an exception thrown by fetch() (`while_` = 'connecting' or 'listing …') or by reading a body
 * ('downloading': the server did answer with CORS headers, so a failure there is never CORS). AbortErrors pass through.
 */
export async function networkError(e: unknown, name: string, url: string, probe: NetworkProbe, while_ = 'downloading'): Promise<unknown> {
  if (isAbort(e)) return e;
  if (!probe.online()) return new DeliveryError('offline', name, `the browser is offline (${while_} stopped); what is already stored is kept and the download resumes when you try again online`, { cause: e });
  if (while_ !== 'downloading' && await probe.reachable(url)) {
    return new DeliveryError('cors', name, `the server at ${new URL(url).host} answers but does not allow this page to read the file (no CORS headers). Download the file yourself and open it as a local file`, { cause: e });
  }
  return new DeliveryError('network', name, `the connection failed while ${while_} (${String((e as Error)?.message ?? e)}); what is already stored is kept, try again to resume`, { cause: e });
}

/** A GET with no credentials, no cookies, no HTTP cache (the cache is ours), following redirects. */
export function safeGet(doFetch: FetchFn, url: string, name: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  checkSafeUrl(new URL(url), name);
  return doFetch(url, { method: 'GET', headers, credentials: 'omit', mode: 'cors', redirect: 'follow', cache: 'no-store', referrerPolicy: 'no-referrer', signal });
}

/** Parses `Content-Range: bytes a-b/total` (total may be `*`). */
export function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  const m = v ? /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) } : null;
}
