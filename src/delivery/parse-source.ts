// Parses what a user types into a model slot: a Hub repo (`owner/name`, optionally `@revision` and a subfolder),
// a Hub page or file URL, or any https file URL. Pure (no network, no DOM); every rejection is a DeliveryError
// ('bad-source' or 'insecure-url') with a message that says what was expected.

import { DeliveryError } from './errors';

export const DEFAULT_HUB = 'https://huggingface.co';

export type ParsedSource =
  /** A whole repository (or one subfolder of it); the files are picked from its listing. */
  | { kind: 'hub-repo'; hub: string; repo: string; revision: string; subfolder: string }
  /** One file of a Hub repository. */
  | { kind: 'hub-file'; hub: string; repo: string; revision: string; path: string; url: string }
  /** Any other file URL. */
  | { kind: 'url'; url: string };

const NAME = '[A-Za-z0-9][A-Za-z0-9._-]*';
const REPO_RE = new RegExp(`^(${NAME}/${NAME})(?:@([^/\\s]+))?(?:/(.+))?$`);

/** True for http(s) URLs on this machine (tests, local servers): the only place plain http is allowed. */
export function isLocalhost(u: URL): boolean {
  return u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname.endsWith('.localhost');
}

/** Throws unless `u` may be fetched: https (http only on localhost), and no user name or password in it. */
export function checkSafeUrl(u: URL, label = u.href): void {
  if (u.username || u.password) {
    throw new DeliveryError('insecure-url', label, 'the URL contains a user name or password; credentials are never sent, remove them from the URL');
  }
  if (u.protocol === 'https:') return;
  if (u.protocol === 'http:' && isLocalhost(u)) return;
  throw new DeliveryError('insecure-url', label, `only https:// URLs are downloaded (plain http only from localhost), not ${u.protocol}//`);
}

function cleanPath(p: string, label: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    throw new DeliveryError('bad-source', label, `"${p}" is not a valid path (a "%" must start an escape like %20)`);
  }
  const parts = decoded.split('/').filter((s) => s !== '');
  if (parts.some((s) => s === '..' || s === '.')) throw new DeliveryError('bad-source', label, 'the path may not contain "." or ".." segments');
  return parts.join('/');
}

/**
 * What a slot's text means. `hub` is the Hub's origin (tests point it at a local server).
 * Accepts `owner/name`, `owner/name@rev`, `owner/name@rev/sub/folder`, `owner/name/sub/folder`, Hub URLs
 * (`/owner/name`, `/tree/<rev>/<folder>`, `/blob/<rev>/<file>`, `/resolve/<rev>/<file>`) and any https file URL.
 */
export function parseSource(text: string, hub: string = DEFAULT_HUB): ParsedSource {
  const s = text.trim();
  if (!s) throw new DeliveryError('bad-source', 'source', 'enter a Hugging Face repo (owner/name) or a file URL');
  const label = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  if (/\s/.test(s)) {
    throw new DeliveryError('bad-source', label, 'this is neither a URL nor a Hugging Face repo: a repo looks like "owner/name", a URL like "https://huggingface.co/owner/name/resolve/main/model.safetensors"');
  }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(s)) {
    const m = REPO_RE.exec(s);
    if (!m) {
      throw new DeliveryError('bad-source', label, 'not a Hugging Face repo ("owner/name", optionally "@revision" and a subfolder) and not a URL (https://…)');
    }
    return { kind: 'hub-repo', hub, repo: m[1], revision: m[2] ?? 'main', subfolder: m[3] ? cleanPath(m[3], label) : '' };
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new DeliveryError('bad-source', label, 'this is not a valid URL (expected https://host/path)');
  }
  if (!/^https?:$/.test(u.protocol) || !u.hostname) {
    throw new DeliveryError('bad-source', label, `"${u.protocol}" URLs cannot be downloaded; use an https:// URL`);
  }
  checkSafeUrl(u, label);
  const hubOrigin = new URL(hub).origin;
  if (u.origin === hubOrigin) {
    const segs = u.pathname.split('/').filter(Boolean);
    if (segs[0] === 'datasets' || segs[0] === 'spaces') {
      throw new DeliveryError('bad-source', label, 'this is a dataset or Space; models are read from model repositories (huggingface.co/owner/name)');
    }
    if (segs.length >= 2 && new RegExp(`^${NAME}$`).test(segs[0]) && new RegExp(`^${NAME}$`).test(segs[1])) {
      const repo = `${segs[0]}/${segs[1]}`;
      if (segs.length === 2) return { kind: 'hub-repo', hub, repo, revision: 'main', subfolder: '' };
      const [, , verb, rev, ...rest] = segs;
      if (verb === 'tree' && rev) return { kind: 'hub-repo', hub, repo, revision: cleanPath(rev, label), subfolder: cleanPath(rest.join('/'), label) };
      if ((verb === 'blob' || verb === 'resolve') && rev && rest.length) {
        const revision = cleanPath(rev, label);
        const path = cleanPath(rest.join('/'), label);
        return { kind: 'hub-file', hub, repo, revision, path, url: hubFileUrl(hub, repo, revision, path) };
      }
    }
    throw new DeliveryError('bad-source', label, 'a Hugging Face URL must be a repo page (/owner/name), a folder (/tree/<revision>/<folder>) or a file (/blob/… or /resolve/…)');
  }
  cleanPath(u.pathname, label);
  u.hash = '';
  return { kind: 'url', url: u.href };
}

/** `<hub>/<repo>/resolve/<revision>/<path>`, each path segment escaped. */
export function hubFileUrl(hub: string, repo: string, revision: string, path: string): string {
  const seg = (x: string) => x.split('/').map(encodeURIComponent).join('/');
  return `${hub.replace(/\/$/, '')}/${seg(repo)}/resolve/${encodeURIComponent(revision)}/${seg(path)}`;
}

/** The repo, revision and path of a Hub resolve URL, or null for any other URL. */
export function hubFileOf(url: string, hub: string = DEFAULT_HUB): { repo: string; revision: string; path: string } | null {
  try {
    const p = parseSource(url, hub);
    return p.kind === 'hub-file' ? { repo: p.repo, revision: p.revision, path: p.path } : null;
  } catch {
    return null;
  }
}
