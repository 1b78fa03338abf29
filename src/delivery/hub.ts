// The Hub's file listing API (`/api/models/<repo>/tree/<revision>/<folder>?recursive=true`): names, exact sizes and
// the LFS sha256 of every file, before anything is downloaded. Listings are cached in the manifest, so a repo
// source resolves offline once its files are stored.

import { DeliveryError, throwIfAborted } from './errors';
import { type FetchFn, type NetworkProbe, networkError, safeGet, statusError } from './http';
import type { ListedFile } from './pick';

interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

/** Lists every file of `repo` at `revision` under `folder` (recursively), following `Link: rel="next"` pages. */
export async function listHubFiles(
  doFetch: FetchFn, probe: NetworkProbe, hub: string, repo: string, revision: string, folder: string, signal?: AbortSignal,
): Promise<ListedFile[]> {
  const seg = (x: string) => x.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  let url: string | null = `${hub.replace(/\/$/, '')}/api/models/${seg(repo)}/tree/${encodeURIComponent(revision)}${folder ? `/${seg(folder)}` : ''}?recursive=true`;
  const name = `${repo}${revision !== 'main' ? `@${revision}` : ''}${folder ? `/${folder}` : ''}`;
  const out: ListedFile[] = [];
  for (let page = 0; url && page < 100; page++) {
    throwIfAborted(signal);
    let res: Response;
    try {
      res = await safeGet(doFetch, url, name, { Accept: 'application/json' }, signal);
    } catch (e) {
      throw await networkError(e, name, url, probe, 'listing the repository');
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 404) throw new DeliveryError('not-found', name, `no such model repository, revision or folder on ${new URL(hub).host} (HTTP 404): check "owner/name", the revision and the folder`);
      throw statusError(res.status, name, url);
    }
    let entries: TreeEntry[];
    try {
      entries = await res.json();
      if (!Array.isArray(entries)) throw new Error('not a list');
    } catch (e) {
      throw new DeliveryError('http', name, `the listing of the repository is not valid JSON: ${(e as Error).message}`);
    }
    for (const e of entries) {
      if (e?.type !== 'file' || typeof e.path !== 'string') continue;
      const sha = e.lfs?.oid && /^[0-9a-f]{64}$/.test(e.lfs.oid) ? e.lfs.oid : undefined;
      out.push({ path: e.path, size: Number(e.lfs?.size ?? e.size), ...(sha ? { sha256: sha } : {}) });
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('Link') ?? '');
    url = next ? new URL(next[1], url).href : null;
  }
  return out;
}
