// Lookups over the catalogue data (./entries) and what derives from it: each file's download URL, and each motion
// module's recommended sampling (from src/schedulers, the one home of scheduler defaults).

import { DEFAULT_HUB, hubFileUrl } from '../delivery/hub-urls';
import { defaultSchedulerFor, type SchedulerClass } from '../schedulers';
import type { SchedulerName } from '../worker/protocol';
import { CATALOGUE } from './entries';
import type { BaseEntry, CatalogueEntry, CatalogueFile, CatalogueKind, LoraEntry, MotionEntry, TokenizerEntry } from './types';

export * from './types';
export { CATALOGUE } from './entries';

type EntryOf<K extends CatalogueKind> = K extends 'base' ? BaseEntry : K extends 'motion' ? MotionEntry : K extends 'tokenizer' ? TokenizerEntry : LoraEntry;

/** Entries of one kind, in catalogue order. */
export function entriesOf<K extends CatalogueKind>(kind: K): EntryOf<K>[] {
  return CATALOGUE.filter((e) => e.kind === kind) as EntryOf<K>[];
}

/** The entry of `kind` with this id (ids are unique within a kind). */
export function findEntry<K extends CatalogueKind>(kind: K, id: string): EntryOf<K> | undefined {
  return entriesOf(kind).find((e) => e.id === id);
}

/** `https://huggingface.co/<repo>/resolve/<revision>/<path>`: the Hub's download URL of one file (each path segment escaped). */
export function hubResolveUrl(repo: string, revision: string, path: string): string {
  return hubFileUrl(DEFAULT_HUB, repo, revision, path);
}

/** Where one file of an entry is downloaded from (a same-origin path for `local` entries). */
export function fileUrl(entry: CatalogueEntry, file: CatalogueFile): string {
  return entry.origin.kind === 'hub'
    ? hubResolveUrl(entry.origin.repo, entry.origin.revision ?? 'main', file.path)
    : `${entry.origin.base}${file.path}`;
}

/** A readable name for one file of an entry, e.g. `Lykon/dreamshaper-8/unet/diffusion_pytorch_model.fp16.safetensors`. */
export function fileLabel(entry: CatalogueEntry, file: CatalogueFile): string {
  return entry.origin.kind === 'hub' ? `${entry.origin.repo}/${file.path}` : `${entry.origin.base.replace(/^\/|\/$/g, '')}/${file.path}`;
}

const SCHEDULER_NAME: Record<SchedulerClass, SchedulerName> = {
  DDIMScheduler: 'ddim', EulerDiscreteScheduler: 'euler-trailing', LCMScheduler: 'lcm',
};

export interface RecommendedSampling {
  scheduler: SchedulerName;
  steps: number;
  guidance: number;
}

/** The scheduler, steps and guidance a motion module was made for, derived from src/schedulers. */
export function recommendedFor(m: MotionEntry): RecommendedSampling {
  const d = defaultSchedulerFor(m.version, { lightningSteps: m.lightningSteps });
  return { scheduler: SCHEDULER_NAME[d.className], steps: m.testSteps ?? d.steps, guidance: d.guidance };
}

/** Known byte total of an entry's files (weights + configs), and whether every size is known. */
export function knownSize(entry: CatalogueEntry): { bytes: number; complete: boolean } {
  const all = [...entry.files, ...entry.configs];
  return { bytes: all.reduce((s, x) => s + (x.size ?? 0), 0), complete: all.every((x) => x.size !== undefined) };
}
