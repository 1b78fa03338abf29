// URL rules of model delivery: which URLs may be fetched (https, plain http only on this machine, never with
// credentials), and the Hub's resolve URLs (built and taken apart). What the user types is parsed by
// src/sources/model-source.ts.

import { DeliveryError } from './errors';

export const DEFAULT_HUB = 'https://huggingface.co';

/** True for URLs on this machine (tests, local servers): the only place plain http is allowed. */
export function isLocalhost(u: URL): boolean {
  return u.hostname === 'localhost' || /^127(\.\d{1,3}){3}$/.test(u.hostname) || u.hostname === '[::1]';
}

/** Throws unless `u` may be fetched: https (http only on localhost), and no user name or password in it. */
export function checkSafeUrl(u: URL, label = u.href): void {
  if (u.username || u.password) {
    throw new DeliveryError('insecure-url', label, 'the URL contains a user name or password; credentials are never sent, remove them from the URL');
  }
  if (u.protocol === 'https:') return;
  if (u.protocol === 'http:' && isLocalhost(u)) return;
  throw new DeliveryError('insecure-url', label, `only https:// URLs are downloaded (plain http only from this machine), not ${u.protocol}//`);
}

/** `<hub>/<repo>/resolve/<revision>/<path>`, each path segment escaped. */
export function hubFileUrl(hub: string, repo: string, revision: string, path: string): string {
  const seg = (x: string) => x.split('/').map(encodeURIComponent).join('/');
  return `${hub.replace(/\/$/, '')}/${seg(repo)}/resolve/${encodeURIComponent(revision)}/${seg(path)}`;
}

/** The repo, revision and path of a Hub resolve URL on `hub`, or null for any other URL. */
export function hubFileOf(url: string, hub: string = DEFAULT_HUB): { repo: string; revision: string; path: string } | null {
  try {
    const u = new URL(url);
    if (u.origin !== new URL(hub).origin) return null;
    const seg = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (seg.length < 5 || seg[2] !== 'resolve' || seg[0] === 'api') return null;
    return { repo: `${seg[0]}/${seg[1]}`, revision: seg[3], path: seg.slice(4).join('/') };
  } catch {
    return null;
  }
}
