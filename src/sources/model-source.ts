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
  /** A Hub repository, with the path of one file in it when given (`owner/name/unet/model.safetensors`). */
  | { kind: 'hub'; repo: string; path?: string };

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

/** Parses one model source as the user typed it; `what` names the slot in messages ("motion module"). */
export function parseModelSource(input: string, what = 'model'): ParsedModelSource {
  const text = input.trim();
  const shown = previewName(text, 200);
  if (!text) throw new ModelSourceError(`Enter the URL of the ${what}, or pick a preset.`);
  // Anything that starts with a scheme ("https:", "htp:", "file:") is judged as a URL.
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) return parseUrl(text, shown, what);
  // owner/name[/path/to/file]: no scheme, no spaces.
  const parts = text.split('/');
  if (!/\s/.test(text) && parts.length >= 2 && HUB_OWNER.test(parts[0]) && HUB_NAME.test(parts[1])) {
    const path = parts.slice(2);
    if (path.some((p) => p === '' || p === '.' || p === '..')) throw new ModelSourceError(`"${shown}" is not a valid path in a Hugging Face repository.`);
    path.forEach((p) => decodeSegment(p, text));
    return { kind: 'hub', repo: `${parts[0]}/${parts[1]}`, ...(path.length ? { path: path.join('/') } : {}) };
  }
  throw new ModelSourceError(`"${shown}" is not a model source for the ${what}: enter a https:// URL of a .safetensors file or a Hugging Face repository as owner/name.`);
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

/** The download URL and display name of a parsed source; a Hub repository must name its file (for now). */
export function resolveModelSource(s: ParsedModelSource, what = 'model'): { url: string; name: string } {
  if (s.kind === 'url') return { url: s.url, name: s.name };
  if (!s.path) {
    throw new ModelSourceError(`"${s.repo}" is a Hugging Face repository; add the file's path in it (e.g. ${s.repo}/diffusion_pytorch_model.safetensors) for the ${what}.`);
  }
  return { url: hubResolveUrl(s.repo, 'main', s.path), name: `${s.repo}/${s.path}` };
}
