// Turns the UI's model selection into local bytes before anything touches the GPU: Hub repo sources become the
// files diffusers would pick, and every download (weights, configs, tokenizer) goes through the model cache
// (src/delivery), so a second start reads OPFS only and works offline. Cancelling stops the downloads and keeps
// what is stored. Without a cache (no OPFS), URLs are read straight from the network with Range requests.

import type { ModelCache } from '../delivery/cache';
import type { DownloadProgress } from '../delivery/progress';
import { blobSource, type ByteSource, openUrlSource } from '../weights/source';
import { WeightFileError } from '../weights/errors';
import type { FileSource, ModelSelection } from './protocol';

/** A selection whose files are all local: picked/dropped files, or Blobs of the model cache. */
export type LocalSource = { kind: 'file'; file: Blob; name: string } | { kind: 'url'; url: string; name: string };

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

/** Expands Hub repo sources into their files (and config files). */
async function expandRepos(sources: FileSource[], cache: ModelCache | null, signal: AbortSignal, configs: FileSource[], notes: string[]): Promise<FileSource[]> {
  const out: FileSource[] = [];
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

/**
 * Resolves repo sources and downloads every URL of the selection into the cache (bounded parallelism, progress,
 * sha256 verification). Returns the selection with local Blobs in place of URLs.
 */
export async function fetchSelection(selection: ModelSelection, cache: ModelCache | null, signal: AbortSignal, onProgress: (p: DownloadProgress) => void): Promise<LocalSelection> {
  const notes: string[] = [];
  const configs = [...selection.configs];
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

  const all = [...base, ...motion, ...configs, tokenizer, ...[motionLora, sdLora].flatMap((l) => (l ? [l.source] : []))];
  const urls = [...new Map(all.filter((s): s is Url => s.kind === 'url').map((s) => [s.url, s])).values()];
  const blobs = new Map<string, Blob>();
  if (cache && urls.length) {
    const got = await cache.ensure(urls.map((u) => ({ url: u.url, name: u.name, ...(u.sha256 ? { sha256: u.sha256 } : {}) })), signal, onProgress);
    urls.forEach((u, i) => blobs.set(u.url, got[i]));
  }
  const local = (s: FileSource): LocalSource => {
    if (s.kind === 'file') return s;
    if (s.kind === 'hub-repo') throw new Error('unexpanded repo source');
    const b = blobs.get(s.url);
    return b ? { kind: 'file', file: b, name: s.name } : { kind: 'url', url: s.url, name: s.name };
  };
  return {
    base: base.map(local), motion: motion.map(local), configs: configs.map(local), tokenizer: local(tokenizer),
    motionLora: motionLora && { source: local(motionLora.source), strength: motionLora.strength },
    sdLora: sdLora && { source: local(sdLora.source), strength: sdLora.strength },
    notes,
  };
}

/** Opens one local source as a random-access byte source (lazy Blob slices; HTTP Range without a cache). */
export async function openLocal(src: LocalSource): Promise<ByteSource> {
  return src.kind === 'url' ? openUrlSource(src.url, { name: src.name }) : blobSource(src.file, src.name);
}

/** The text of a local source (configs, tokenizer). */
export async function readLocalText(src: LocalSource): Promise<string> {
  try {
    if (src.kind === 'file') return await src.file.text();
    const res = await fetch(src.url, { credentials: 'omit' });
    if (!res.ok) throw new WeightFileError('io', src.name, `HTTP ${res.status} while fetching it`, { httpStatus: res.status });
    return await res.text();
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError('io', src.name, `cannot read it: ${String(e)}`, { cause: e });
  }
}
