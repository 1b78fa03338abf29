// The shape of the model catalogue: what the worker downloads, the UI lists and the tests check.
// Every repo, file name, size, sha256 and revision is written down only where a published source confirms it
// (docs/catalogue.md names the source of each entry); unknown values stay undefined and are pinned from what the
// Hub reports on the first download (see src/delivery).

import type { MotionModuleVersion } from '../schedulers';

/** One file of a Hub repository. */
export interface CatalogueFile {
  /** Path inside the repository (with its subfolder), e.g. `unet/diffusion_pytorch_model.fp16.safetensors`. */
  path: string;
  /** Exact byte size, where a published source states it. */
  size?: number;
  /** Lower-case hex sha256 of the content (the LFS object id), where a published source states it. */
  sha256?: string;
}

/** Where an entry's files live. `repo` is a Hub `owner/name`; `local` is served by this app (tests, demos). */
export type CatalogueOrigin =
  | { kind: 'hub'; repo: string; /** A 40-hex commit; `main` when absent. */ revision?: string }
  | { kind: 'local'; /** URL path prefix on this app's own origin, e.g. `/tiny-model/`. */ base: string };

export type CatalogueKind = 'base' | 'motion' | 'motion-lora' | 'lora' | 'tokenizer';

/** Models of one family only work together (the tiny test model's widths are not SD1.5's). */
export type ModelFamily = 'sd15' | 'tiny';

export interface CatalogueEntryBase {
  id: string;
  kind: CatalogueKind;
  label: string;
  /** One or two sentences for the UI. */
  note: string;
  origin: CatalogueOrigin;
  /** The weight files (safetensors only). */
  files: CatalogueFile[];
  /** config.json files of the components, told apart by content by the loader. */
  configs: CatalogueFile[];
  /** SPDX-like licence name as stated on the model card. */
  licence: string;
  family: ModelFamily;
  /** The published page that confirms the repo and file names (model card, tree, diffusers docs). */
  confirmedBy: string;
}

export interface BaseEntry extends CatalogueEntryBase {
  kind: 'base';
  /** The tokenizer entry this base model pairs with. */
  tokenizer: string;
  /** Square size the UI offers by default. */
  defaultSize: number;
  /** Whether the weights need `shader-f16` (none do: fp16 files run on f32 engines too, converted on upload). */
  needsShaderF16: boolean;
}

export interface MotionEntry extends CatalogueEntryBase {
  kind: 'motion';
  /**
   * Which motion-module version this is: the recommended scheduler, steps and guidance come from
   * src/schedulers `defaultSchedulerFor(version)` (their one home), never from here.
   */
  version: MotionModuleVersion;
  /** AnimateDiff-Lightning checkpoints are distilled for a fixed step count. */
  lightningSteps?: number;
  /** Test models only: fewer steps than the version's default, so a software adapter finishes in seconds. */
  testSteps?: number;
  /** A LoRA the module is meant to be used with (AnimateLCM's t2v LoRA): an entry id and its strength. */
  companionLora?: { id: string; strength: number };
  /** MotionLoRAs were trained on the v2 module (Lightning is distilled from v2). */
  motionLoraCompatible: boolean;
}

export interface LoraEntry extends CatalogueEntryBase {
  kind: 'motion-lora' | 'lora';
  defaultStrength: number;
}

export interface TokenizerEntry extends CatalogueEntryBase {
  kind: 'tokenizer';
}

export type CatalogueEntry = BaseEntry | MotionEntry | LoraEntry | TokenizerEntry;
