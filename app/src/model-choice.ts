// Turns the four model slots of the UI into the worker's ModelSelection, a cache key and a readable label.

import { ModelSourceError, namesHubFile, parseModelSource, resolveModelSource } from '../../src/sources/model-source';
import { pickModelFiles } from '../../src/delivery/pick';
import { hubOverride } from './hub-override';
import type { FileSource, ModelSelection } from '../../src/worker/protocol';
import type { LocalFile, SlotChoice } from './components/SourcePicker';
import { BASE_PRESETS, type BasePreset, MOTION_LORA_PRESETS, MOTION_PRESETS, type MotionPreset } from './presets';

export interface ModelChoice {
  base: SlotChoice;
  motion: SlotChoice;
  motionLora: SlotChoice;
  motionLoraStrength: number;
  sdLora: SlotChoice;
  sdLoraStrength: number;
}

export const SD_LORA_PRESETS = MOTION_PRESETS.flatMap((m) =>
  m.companionLora ? [{ id: `${m.id}-lora`, label: `${m.label} t2v LoRA`, source: m.companionLora.source, strength: m.companionLora.strength }] : []);

export function basePreset(c: ModelChoice): BasePreset | undefined {
  return c.base.mode === 'preset' ? BASE_PRESETS.find((p) => p.id === (c.base as { presetId: string }).presetId) : undefined;
}

export function motionPreset(c: ModelChoice): MotionPreset | undefined {
  return c.motion.mode === 'preset' ? MOTION_PRESETS.find((p) => p.id === (c.motion as { presetId: string }).presetId) : undefined;
}

export class ChoiceError extends Error {}

/**
 * A typed model source as a worker FileSource: a file URL or Hub file → a download; a Hub repo or folder
 * (`owner/name`, `owner/name@rev/unet`) → the worker picks its files. ChoiceError names what is wrong.
 */
function urlSource(url: string, slot: string): FileSource {
  try {
    const parsed = parseModelSource(url, slot, hubOverride());
    if (parsed.kind === 'hub' && !namesHubFile(parsed)) {
      return { kind: 'hub-repo', repo: parsed.repo, ...(parsed.revision ? { revision: parsed.revision } : {}), ...(parsed.path ? { subfolder: parsed.path } : {}), name: url.trim() };
    }
    return { kind: 'url', ...resolveModelSource(parsed, slot) };
  } catch (e) {
    if (e instanceof ModelSourceError) throw new ChoiceError(e.message);
    throw e;
  }
}

/** Several local files or a folder: the model's files picked as from a repo (weights + config.json files). */
function localFilesSources(files: LocalFile[], what: string, configs: FileSource[]): FileSource[] {
  if (files.length === 0) throw new ChoiceError(`Choose the ${what}'s files or folder.`);
  if (files.length === 1) return [{ kind: 'file', file: files[0].file, name: files[0].file.name }];
  // A dropped folder's paths start with the folder's own name: pick from inside it.
  const tops = new Set(files.map((f) => f.path.split('/')[0]));
  const root = tops.size === 1 && files.every((f) => f.path.includes('/')) ? [...tops][0] : '';
  const byPath = new Map(files.map((f) => [f.path, f.file]));
  let picked;
  try {
    picked = pickModelFiles(files.map((f) => ({ path: f.path, size: f.file.size })), root, root || `the ${what} files`);
  } catch (e) {
    throw new ChoiceError((e as Error).message);
  }
  configs.push(...picked.configs.map((c): FileSource => ({ kind: 'file', file: byPath.get(c.path)!, name: c.path })));
  return picked.weights.map((w): FileSource => ({ kind: 'file', file: byPath.get(w.path)!, name: w.path }));
}

function slotSources(slot: SlotChoice, what: string, presetFiles: (id: string) => FileSource[] | undefined, configs: FileSource[] = []): FileSource[] {
  switch (slot.mode) {
    case 'none':
      return [];
    case 'preset': {
      const files = presetFiles(slot.presetId);
      if (!files) throw new ChoiceError(`Unknown ${what} preset "${slot.presetId}".`);
      return files;
    }
    case 'url':
      return [urlSource(slot.url, what)];
    case 'file':
      if (!slot.file) throw new ChoiceError(`Choose a .safetensors file for the ${what}.`);
      return [{ kind: 'file', file: slot.file, name: slot.file.name }];
    case 'files':
      return localFilesSources(slot.files, what, configs);
  }
}

const CLIP_TOKENIZER = BASE_PRESETS[0].tokenizer;

/** The worker request's models; throws ChoiceError with a user message when a slot is incomplete. */
export function toSelection(c: ModelChoice): ModelSelection {
  const bp = basePreset(c);
  const mp = motionPreset(c);
  const localConfigs: FileSource[] = [];
  const base = slotSources(c.base, 'base model', (id) => BASE_PRESETS.find((p) => p.id === id)?.files, localConfigs);
  const motion = slotSources(c.motion, 'motion module', (id) => MOTION_PRESETS.find((p) => p.id === id)?.files, localConfigs);
  if (base.length === 0) throw new ChoiceError('Choose a base model.');
  if (motion.length === 0) throw new ChoiceError('Choose a motion module.');
  const motionLora = slotSources(c.motionLora, 'MotionLoRA', (id) => MOTION_LORA_PRESETS.find((p) => p.id === id) && [MOTION_LORA_PRESETS.find((p) => p.id === id)!.source]);
  const sdLora = slotSources(c.sdLora, 'SD LoRA', (id) => SD_LORA_PRESETS.find((p) => p.id === id) && [SD_LORA_PRESETS.find((p) => p.id === id)!.source]);
  return {
    base,
    configs: [...(bp?.configs ?? []), ...(mp?.configs ?? []), ...localConfigs],
    // The tiny test model's tokenizer is the CLIP tokenizer too, served by the app: no download for local files then.
    tokenizer: bp?.tokenizer ?? (mp?.family === 'tiny' ? BASE_PRESETS.find((p) => p.family === 'tiny')!.tokenizer : CLIP_TOKENIZER),
    motion,
    motionLora: motionLora[0] ? { source: motionLora[0], strength: c.motionLoraStrength } : undefined,
    sdLora: sdLora[0] ? { source: sdLora[0], strength: c.sdLoraStrength } : undefined,
  };
}

function sourceKey(s: FileSource): string {
  if (s.kind === 'url') return s.url;
  if (s.kind === 'hub-repo') return `hub:${s.repo}@${s.revision ?? 'main'}/${s.subfolder ?? ''}`;
  return `file:${s.name}:${s.file.size}:${s.file.lastModified}`;
}

/** Equal keys = the worker can keep the models it has. */
export function selectionKey(s: ModelSelection): string {
  return JSON.stringify([
    s.base.map(sourceKey), s.motion.map(sourceKey), s.configs.map(sourceKey), sourceKey(s.tokenizer),
    s.motionLora && [sourceKey(s.motionLora.source), s.motionLora.strength],
    s.sdLora && [sourceKey(s.sdLora.source), s.sdLora.strength],
  ]);
}

function slotLabel(slot: SlotChoice, presetLabel: string | undefined): string {
  if (slot.mode === 'preset') return presetLabel ?? slot.presetId;
  if (slot.mode === 'url') return slot.url.split('/').pop() || slot.url;
  if (slot.mode === 'file') return slot.file?.name ?? 'local file';
  if (slot.mode === 'files') return slot.files.length ? `${slot.files[0].path.split('/')[0]}${slot.files.length > 1 ? ` (${slot.files.length} files)` : ''}` : 'local files';
  return '';
}

/** E.g. "Stable Diffusion 1.5 + AnimateDiff v2 + Zoom in 0.8". */
export function choiceLabel(c: ModelChoice): string {
  const parts = [slotLabel(c.base, basePreset(c)?.label.replace(/ \(.*\)$/, '')), slotLabel(c.motion, motionPreset(c)?.label.replace(/ \(.*\)$/, ''))];
  if (c.motionLora.mode !== 'none') parts.push(`${slotLabel(c.motionLora, MOTION_LORA_PRESETS.find((p) => c.motionLora.mode === 'preset' && p.id === c.motionLora.presetId)?.label)} ${c.motionLoraStrength}`);
  if (c.sdLora.mode !== 'none') parts.push(`${slotLabel(c.sdLora, SD_LORA_PRESETS.find((p) => c.sdLora.mode === 'preset' && p.id === c.sdLora.presetId)?.label)} ${c.sdLoraStrength}`);
  return parts.join(' + ');
}


/** The choice as remembered across reloads: preset and URL slots (a local file cannot be kept). */
export function storableChoice(c: ModelChoice): unknown {
  const slot = (s: SlotChoice) => (s.mode === 'file' ? null : s);
  return { v: 1, base: slot(c.base), motion: slot(c.motion), motionLora: slot(c.motionLora), motionLoraStrength: c.motionLoraStrength, sdLora: slot(c.sdLora), sdLoraStrength: c.sdLoraStrength };
}

/**
 * A remembered choice, checked slot by slot against the presets the app has now: a slot that is unknown, malformed
 * or was a local file keeps `fallback`'s value. Null when nothing usable is stored.
 */
export function parseStoredChoice(raw: unknown, fallback: ModelChoice): ModelChoice | null {
  if (typeof raw !== 'object' || raw === null || (raw as { v?: unknown }).v !== 1) return null;
  const r = raw as Record<string, unknown>;
  const slot = (v: unknown, ids: string[], optional: boolean, keep: SlotChoice): SlotChoice => {
    if (typeof v !== 'object' || v === null) return keep;
    const s = v as Record<string, unknown>;
    if (s.mode === 'none' && optional) return { mode: 'none' };
    if (s.mode === 'preset' && typeof s.presetId === 'string' && ids.includes(s.presetId)) return { mode: 'preset', presetId: s.presetId };
    if (s.mode === 'url' && typeof s.url === 'string' && s.url.length <= 2048) return { mode: 'url', url: s.url };
    return keep;
  };
  const strength = (v: unknown, keep: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 2 ? v : keep);
  return {
    base: slot(r.base, BASE_PRESETS.map((p) => p.id), false, fallback.base),
    motion: slot(r.motion, MOTION_PRESETS.map((p) => p.id), false, fallback.motion),
    motionLora: slot(r.motionLora, MOTION_LORA_PRESETS.map((p) => p.id), true, fallback.motionLora),
    motionLoraStrength: strength(r.motionLoraStrength, fallback.motionLoraStrength),
    sdLora: slot(r.sdLora, SD_LORA_PRESETS.map((p) => p.id), true, fallback.sdLora),
    sdLoraStrength: strength(r.sdLoraStrength, fallback.sdLoraStrength),
  };
}
