// Turns the UI's model selection into bytes in three steps, so the memory planner can refuse a run before anything
// large is downloaded: `resolveSelection` expands Hub repo sources into the files diffusers would pick (a listing
// request per repo); `peekSelection` gives the weight files as they can be read without downloading them (a stored
// Blob of the model cache, else the URL, read with HTTP Range: the planner needs only each header, a few KB) and
// fetches the small config files through the cache; `fetchSelection` downloads everything into the cache (weights,
// configs, tokenizer), so a second start reads OPFS only and works offline. Cancelling stops the downloads and keeps
// what is stored. Without a cache (no OPFS), URLs are read straight from the network with Range requests.

import type { ModelCache } from '../delivery/cache';
import type { DownloadProgress } from '../delivery/progress';
import { blobSource, type ByteSource, openUrlSource } from '../weights/source';
import { WeightFileError } from '../weights/errors';
import type { FileSource, ModelSelection } from './protocol';

/** A selection whose files are all local: picked/dropped files, or Blobs of the model cache (with their sha256). */
export type LocalSource = { kind: 'file'; file: Blob; name: string; sha256?: string } | { kind: 'url'; url: string; name: string };

export interface LocalSelection {
  base: LocalSource[];
  configs: LocalSource[];
  tokenizer: LocalSource;
  motion: LocalSource[];
  motionLora?: { source: LocalSource; strength: number };
  sdLora?: { source: LocalSource; strength: number };
  /** How repo sources were read, for the load summary ("o/r: diffusers pipeline (unet, vae, text_encoder), fp16"). */
  notes: string[];
}

type Url = Extract<FileSource, { kind: 'url' }>;
/** A file source after repo expansion: a URL or a local file. */
export type ResolvedSource = Exclude<FileSource, { kind: 'hub-repo' }>;

/** A selection with every Hub repo expanded into its files (and their config files); nothing downloaded yet. */
export interface ResolvedSelection {
  base: ResolvedSource[];
  configs: ResolvedSource[];
  tokenizer: ResolvedSource;
  motion: ResolvedSource[];
  motionLora?: { source: ResolvedSource; strength: number };
  sdLora?: { source: ResolvedSource; strength: number };
  notes: string[];
}

/** Expands Hub repo sources into their files (and config files). */
async function expandRepos(sources: FileSource[], cache: ModelCache | null, signal: AbortSignal, configs: ResolvedSource[], notes: string[]): Promise<ResolvedSource[]> {
  const out: ResolvedSource[] = [];
  for (const s of sources) {
    if (s.kind !== 'hub-repo') { out.push(s); continue; }
    if (!cache) throw new WeightFileError('io', s.name, 'a Hugging Face repository can only be read with the model cache, which this browser does not offer (no OPFS)');
    const r = await cache.resolveRepo(s.repo, s.revision ?? 'main', s.subfolder ?? '', signal);
    notes.push(`${s.name}: ${r.layout}`);
    out.push(...r.files.map((f): Url => ({ kind: 'url', url: f.url, name: f.name, ...(f.sha256 ? { sha256: f.sha256 } : {}) })));
    configs.push(...r.configFiles.map((f): Url => ({ kind: 'url', url: f.url, name: f.name })));
  }
  return out;
}

/** Resolves the selection's Hub repo sources into files (the repo listing only; no file is downloaded). */
export async function resolveSelection(selection: ModelSelection, cache: ModelCache | null, signal: AbortSignal): Promise<ResolvedSelection> {
  const notes: string[] = [];
  const configs = selection.configs.map((s): ResolvedSource => {
    if (s.kind === 'hub-repo') throw new WeightFileError('io', s.name, 'a config file must be a file or a URL, not a repository');
    return s;
  });
  const base = await expandRepos(selection.base, cache, signal, configs, notes);
  const motion = await expandRepos(selection.motion, cache, signal, configs, notes);
  const lora = async (l?: { source: FileSource; strength: number }) => {
    if (!l) return undefined;
    const [source] = await expandRepos([l.source], cache, signal, configs, notes);
    return { source, strength: l.strength };
  };
  const motionLora = await lora(selection.motionLora);
  const sdLora = await lora(selection.sdLora);
  const [tokenizer] = await expandRepos([selection.tokenizer], cache, signal, configs, notes);
  return { base, motion, configs, tokenizer, motionLora, sdLora, notes };
}

/** The same selection with each source replaced by `local(source)`. */
function mapSelection(r: ResolvedSelection, local: (s: ResolvedSource) => LocalSource): LocalSelection {
  return {
    base: r.base.map(local), motion: r.motion.map(local), configs: r.configs.map(local), tokenizer: local(r.tokenizer),
    motionLora: r.motionLora && { source: local(r.motionLora.source), strength: r.motionLora.strength },
    sdLora: r.sdLora && { source: local(r.sdLora.source), strength: r.sdLora.strength },
    notes: r.notes,
  };
}

const requestOf = (u: Url) => ({ url: u.url, name: u.name, ...(u.sha256 ? { sha256: u.sha256 } : {}) });
const uniqueUrls = (all: ResolvedSource[]) => [...new Map(all.filter((s): s is Url => s.kind === 'url').map((s) => [s.url, s])).values()];

/**
 * The selection as the memory planner reads it, downloading and storing nothing: each file is its stored Blob when
 * the cache holds it complete, else its URL (a weight file read with HTTP Range: openSafetensors fetches the header
 * only; a config file, a few KB, fetched whole). Nothing is written to the cache, so choosing a model leaves no trace
 * in Storage until Generate. The tokenizer is not needed for planning and is left as it is.
 */
export async function peekSelection(r: ResolvedSelection, cache: ModelCache | null, signal: AbortSignal): Promise<LocalSelection> {
  const blobs = new Map<string, Blob>();
  if (cache) {
    for (const u of uniqueUrls([...r.configs, ...r.base, ...r.motion, ...[r.motionLora, r.sdLora].flatMap((l) => (l ? [l.source] : []))])) {
      signal.throwIfAborted();
      const b = await cache.storedBlob(u.url);
      if (b) blobs.set(u.url, b);
    }
  }
  return mapSelection(r, (s) => {
    if (s.kind === 'file') return s;
    const b = blobs.get(s.url);
    return b ? { kind: 'file', file: b, name: s.name } : { kind: 'url', url: cache ? cache.absolute(s.url) : s.url, name: s.name };
  });
}

/**
 * Downloads every URL of a resolved selection into the cache (bounded parallelism, progress, sha256 verification).
 * Returns the selection with local Blobs in place of URLs.
 */
export async function fetchSelection(r: ResolvedSelection, cache: ModelCache | null, signal: AbortSignal, onProgress: (p: DownloadProgress) => void): Promise<LocalSelection> {
  const all = [...r.base, ...r.motion, ...r.configs, r.tokenizer, ...[r.motionLora, r.sdLora].flatMap((l) => (l ? [l.source] : []))];
  const urls = uniqueUrls(all);
  const blobs = new Map<string, Blob>();
  if (cache && urls.length) {
    const got = await cache.ensure(urls.map(requestOf), signal, onProgress);
    urls.forEach((u, i) => blobs.set(u.url, got[i]));
  }
  return mapSelection(r, (s) => {
    if (s.kind === 'file') return s;
    const b = blobs.get(s.url);
    const sha256 = b && cache?.sha256Of(s.url);
    return b ? { kind: 'file', file: b, name: s.name, ...(sha256 ? { sha256 } : {}) } : { kind: 'url', url: s.url, name: s.name };
  });
}

/** Opens one local source as a random-access byte source (lazy Blob slices; HTTP Range without a cache). */
export async function openLocal(src: LocalSource, signal?: AbortSignal): Promise<ByteSource> {
  return src.kind === 'url' ? openUrlSource(src.url, { name: src.name, signal }) : blobSource(src.file, src.name, src.sha256);
}

/** The text of a local source (configs, tokenizer). */
export async function readLocalText(src: LocalSource, signal?: AbortSignal): Promise<string> {
  try {
    if (src.kind === 'file') return await src.file.text();
    const res = await fetch(src.url, { credentials: 'omit', signal });
    if (!res.ok) throw new WeightFileError('io', src.name, `HTTP ${res.status} while fetching it`, { httpStatus: res.status });
    return await res.text();
  } catch (e) {
    if (e instanceof WeightFileError || (e as Error)?.name === 'AbortError') throw e;
    throw new WeightFileError('io', src.name, `cannot read it: ${String(e)}`, { cause: e });
  }
}
