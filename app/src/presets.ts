// The UI's view of the model catalogue (src/catalogue, the one home of the model list): each entry's files as the
// worker's FileSources, and each motion module's recommended sampling (derived from src/schedulers).

import type { FileSource, SchedulerName } from '../../src/worker/protocol';
import {
  type CatalogueEntry, type CatalogueFile, entriesOf, fileLabel, fileUrl, findEntry, type ModelFamily, type RecommendedSampling, recommendedFor,
} from '../../src/catalogue';

/** One catalogue file as a worker source (the URL it downloads from, the name messages use). */
export function catalogueSource(entry: CatalogueEntry, file: CatalogueFile): FileSource {
  return { kind: 'url', url: fileUrl(entry, file), name: fileLabel(entry, file), ...(file.sha256 ? { sha256: file.sha256 } : {}) };
}
const sources = (e: CatalogueEntry, files: CatalogueFile[]) => files.map((x) => catalogueSource(e, x));

export interface BasePreset {
  id: string;
  label: string;
  note: string;
  /** Weight files (single-file checkpoint, or the diffusers unet + vae + text encoder). */
  files: FileSource[];
  /** config.json files of the components (identified by their content), where the layout needs them. */
  configs: FileSource[];
  tokenizer: FileSource;
  /** 'tiny' presets only pair with tiny motion modules. */
  family: ModelFamily;
  /** Sizes the UI offers by default. */
  defaultSize: number;
}

export type Recommended = RecommendedSampling;

export interface MotionPreset {
  id: string;
  label: string;
  note: string;
  files: FileSource[];
  configs: FileSource[];
  family: ModelFamily;
  recommended: Recommended;
  /** A LoRA the motion module is meant to be used with (AnimateLCM's t2v LoRA), applied to the base model. */
  companionLora?: { source: FileSource; strength: number };
  /** MotionLoRAs were trained on the v2 module; other versions ignore or distort them. */
  motionLoraCompatible: boolean;
}

export interface LoraPreset {
  id: string;
  label: string;
  source: FileSource;
}

function tokenizerSource(id: string): FileSource {
  const t = findEntry('tokenizer', id);
  if (!t) throw new Error(`catalogue: unknown tokenizer ${id}`);
  return catalogueSource(t, t.files[0]);
}

export const BASE_PRESETS: BasePreset[] = entriesOf('base').map((e) => ({
  id: e.id, label: e.label, note: e.note, files: sources(e, e.files), configs: sources(e, e.configs),
  tokenizer: tokenizerSource(e.tokenizer), family: e.family, defaultSize: e.defaultSize,
}));

export const MOTION_PRESETS: MotionPreset[] = entriesOf('motion').map((e) => {
  const lora = e.companionLora && findEntry('lora', e.companionLora.id);
  return {
    id: e.id, label: e.label, note: e.note, files: sources(e, e.files), configs: sources(e, e.configs), family: e.family,
    recommended: recommendedFor(e),
    ...(lora ? { companionLora: { source: catalogueSource(lora, lora.files[0]), strength: e.companionLora!.strength } } : {}),
    motionLoraCompatible: e.motionLoraCompatible,
  };
});

/** guoyww's camera-motion LoRAs (diffusers conversions), trained on the v2 module. */
export const MOTION_LORA_PRESETS: LoraPreset[] = entriesOf('motion-lora').map((e) => ({ id: e.id, label: e.label, source: catalogueSource(e, e.files[0]) }));

export const SCHEDULERS: { id: SchedulerName; label: string }[] = [
  { id: 'ddim', label: 'DDIM' },
  { id: 'euler-trailing', label: 'Euler (trailing)' },
  { id: 'lcm', label: 'LCM' },
];

export const SIZE_PRESETS = [256, 384, 512] as const;
