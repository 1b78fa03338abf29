// What the user typed as a model source, parsed: a https URL of a file, a Hugging Face Hub repository
// (`owner/name`, optionally followed by a path to a file in it), or nothing this app can read. Pure (no DOM, no
// network): the UI parses before it sends anything, and every later step receives a well-formed source.
// Plain http is allowed only for this machine (localhost, 127.0.0.0/8, [::1]: a local server or the e2e server).

import { KindedError } from '../errors';
import { hubResolveUrl } from '../catalogue';
import { previewName } from '../util/json-preview';

export type ParsedModelSource =
  /** A direct file URL; `name` is its last path segment, decoded. */
  | { kind: 'url'; url: string; name: string }
  /**
   * A Hub repository, with the path of one file or folder in it when given (`owner/name/unet/model.safetensors`,
   * `owner/name/unet`), and the revision when given (`owner/name@v2/…`, a `/tree/<rev>/` URL; `main` otherwise).
   */
  | { kind: 'hub'; repo: string; path?: string; revision?: string };

/** A model source that is neither a https URL, nor a Hub repository, nor well-formed. */
export class ModelSourceError extends KindedError {
  constructor(message: string) {
    super('invalid-source', message);
  }
}

const HUB_HOST = 'huggingface.co';
/** Hub owner names: letters, digits, `-`, `_` (no dots, so `www.example.com/x` is not taken for a repository). */
const HUB_OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,95}$/;
/** Hub repository names: letters, digits, `-`, `_`, `.`; not starting with `-` or `.`; at most 96 characters. */
const HUB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,95}$/;
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** decodeURIComponent that names a malformed escape (a bare `%`) instead of throwing URIError. */
function decodeSegment(segment: string, input: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ModelSourceError(`"${previewName(input, 200)}" has a "%" that is not followed by two hexadecimal digits; write a literal % as %25.`);
  }
}

/** A Hub revision (branch, tag or commit) as typed after `@`. */
const HUB_REVISION = /^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$/;

/**
 * Parses one model source as the user typed it; `what` names the slot in messages ("motion module"). `hub` is the
 * Hub's origin (tests point it at a local imitation); its repo pages and `/tree/<rev>/<folder>` URLs are repos.
 */
export function parseModelSource(input: string, what = 'model', hub = `https://${HUB_HOST}`): ParsedModelSource {
  const text = input.trim();
  const shown = previewName(text, 200);
  if (!text) throw new ModelSourceError(`Enter the URL of the ${what}, or pick a preset.`);
  // Anything that starts with a scheme ("https:", "htp:", "file:") is judged as a URL.
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) return hubUrl(text, hub) ?? parseUrl(text, shown, what);
  // owner/name[@revision][/path/to/file-or-folder]: no scheme, no spaces.
  const parts = text.split('/');
  const [name, revision] = (parts[1] ?? '').split('@') as [string, string | undefined];
  if (!/\s/.test(text) && parts.length >= 2 && HUB_OWNER.test(parts[0]) && HUB_NAME.test(name) && (revision === undefined || HUB_REVISION.test(revision))) {
    const path = parts.slice(2);
    if (path.some((p) => p === '' || p === '.' || p === '..')) throw new ModelSourceError(`"${shown}" is not a valid path in a Hugging Face repository.`);
    path.forEach((p) => decodeSegment(p, text));
    return { kind: 'hub', repo: `${parts[0]}/${name}`, ...(path.length ? { path: path.join('/') } : {}), ...(revision ? { revision } : {}) };
  }
  throw new ModelSourceError(`"${shown}" is not a model source for the ${what}: enter a https:// URL of a .safetensors file or a Hugging Face repository as owner/name.`);
}

/** A Hub repo page (`<hub>/owner/name`) or folder (`<hub>/owner/name/tree/<rev>[/folder]`) URL as a hub source. */
function hubUrl(text: string, hub: string): ParsedModelSource | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.origin !== new URL(hub).origin || url.username || url.password) return null;
  const seg = url.pathname.split('/').filter((s) => s !== '');
  if (seg.length < 2 || !HUB_OWNER.test(seg[0]) || !HUB_NAME.test(seg[1]) || ['datasets', 'spaces', 'api'].includes(seg[0])) return null;
  let dec: string[];
  try {
    dec = seg.map(decodeURIComponent);
  } catch {
    return null; // parseUrl names the bad escape
  }
  if (dec.some((p) => p === '.' || p === '..')) return null;
  const repo = `${seg[0]}/${seg[1]}`;
  if (seg.length === 2) return { kind: 'hub', repo };
  if (seg[2] === 'tree' && seg.length >= 4) {
    return { kind: 'hub', repo, revision: dec[3], ...(seg.length > 4 ? { path: dec.slice(4).join('/') } : {}) };
  }
  return null;
}

function parseUrl(text: string, shown: string, what: string): ParsedModelSource {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ModelSourceError(`"${shown}" is not a valid https URL for the ${what}.`);
  }
  const local = url.protocol === 'http:' && LOOPBACK.test(url.hostname);
  if (url.protocol !== 'https:' && !local) {
    throw new ModelSourceError(`"${shown}" is not a valid https URL for the ${what} (${url.protocol === 'http:' ? 'plain http is only allowed for this machine' : `"${url.protocol}" is not https`}).`);
  }
  if (!url.hostname || /\s/.test(text)) throw new ModelSourceError(`"${shown}" is not a valid https URL for the ${what}.`);
  const segments = url.pathname.split('/').filter((s) => s !== '');
  segments.forEach((s) => decodeSegment(s, text));
  // A Hub page URL (…/blob/<rev>/…) serves HTML; the file itself is at …/resolve/<rev>/….
  if (url.hostname === HUB_HOST && segments[2] === 'blob' && segments.length >= 5) {
    url.pathname = `/${[...segments.slice(0, 2), 'resolve', ...segments.slice(3)].join('/')}`;
  }
  const last = segments[segments.length - 1];
  if (!last) throw new ModelSourceError(`"${shown}" names no file: the ${what} URL must end in the file's name.`);
  return { kind: 'url', url: url.href, name: decodeSegment(last, text) };
}

/** Whether a hub source names one file (a path ending in a file extension) rather than the repo or a folder of it. */
export function namesHubFile(s: ParsedModelSource): boolean {
  return s.kind === 'hub' && !!s.path && /\.[A-Za-z0-9]+$/.test(s.path);
}

/** The download URL and display name of a parsed source that names one file (see `namesHubFile`). */
export function resolveModelSource(s: ParsedModelSource, what = 'model'): { url: string; name: string } {
  if (s.kind === 'url') return { url: s.url, name: s.name };
  if (!s.path) {
    throw new ModelSourceError(`"${s.repo}" is a Hugging Face repository; add the file's path in it (e.g. ${s.repo}/diffusion_pytorch_model.safetensors) for the ${what}.`);
  }
  return { url: hubResolveUrl(s.repo, s.revision ?? 'main', s.path), name: `${s.repo}/${s.path}` };
}
