// The worker's bridge to the loaders and the pipeline: opens the selected files as byte sources, loads the
// models onto the engine, and runs one generation with progress, preview and per-frame hooks.

import type { Engine } from '../gpu/engine';
import { openSafetensors, type SafetensorsFile } from '../weights/safetensors';
import { blobSource, type ByteSource, openUrlSource } from '../weights/source';
import { InvalidSettingsError } from './errors';
import { generate, type PipelineModels, type SchedulerChoice } from '../pipeline/generate';
import { defaultSchedulerFor } from '../schedulers';
import type { FileSource, GenerateSettings, LoadPhase, ModelSelection, ModelSummary, SchedulerName } from './protocol';

export const LIMITS = {
  frames: { min: 8, max: 32 },
  size: { min: 64, max: 1024, multiple: 64 },
  steps: { min: 1, max: 100 },
  guidance: { min: 0, max: 30 },
} as const;

/** Rejects settings outside what the models support, naming the setting and the allowed range. */
export function validateSettings(s: GenerateSettings): void {
  const int = (v: number) => Number.isInteger(v);
  if (!int(s.frames) || s.frames < LIMITS.frames.min || s.frames > LIMITS.frames.max) {
    throw new InvalidSettingsError(`Frames must be a whole number from ${LIMITS.frames.min} to ${LIMITS.frames.max} (got ${s.frames}).`);
  }
  for (const [name, v] of [['Width', s.width], ['Height', s.height]] as const) {
    if (!int(v) || v < LIMITS.size.min || v > LIMITS.size.max || v % LIMITS.size.multiple !== 0) {
      throw new InvalidSettingsError(`${name} must be a multiple of 64 from ${LIMITS.size.min} to ${LIMITS.size.max} (got ${v}).`);
    }
  }
  if (!int(s.steps) || s.steps < LIMITS.steps.min || s.steps > LIMITS.steps.max) {
    throw new InvalidSettingsError(`Steps must be a whole number from ${LIMITS.steps.min} to ${LIMITS.steps.max} (got ${s.steps}).`);
  }
  if (!Number.isFinite(s.guidance) || s.guidance < LIMITS.guidance.min || s.guidance > LIMITS.guidance.max) {
    throw new InvalidSettingsError(`Guidance must be from ${LIMITS.guidance.min} to ${LIMITS.guidance.max} (got ${s.guidance}).`);
  }
  if (!int(s.seed) || s.seed < 0 || s.seed > 0xffffffff) {
    throw new InvalidSettingsError(`The seed must be a whole number from 0 to 4294967295 (got ${s.seed}).`);
  }
}

/** Opens one file of the selection as a random-access byte source (HTTP Range for URLs, lazy slices for files). */
export async function openSource(src: FileSource): Promise<ByteSource> {
  return src.kind === 'url' ? openUrlSource(src.url, { name: src.name }) : blobSource(src.file, src.name);
}

export type LoadProgress = (phase: LoadPhase, file: string | undefined, loaded: number, total: number) => void;

export interface LoadedModels {
  pipeline(engine: Engine): PipelineModels;
  summary(engine: Engine, loadMs: number): ModelSummary;
  dispose(): void;
}

export interface GenerationHooks {
  onStep(p: { step: number; steps: number; elapsedMs: number; etaMs: number }): void;
  onPreview(step: number, frames: Uint8ClampedArray[], width: number, height: number): void;
  onFrame(index: number, frames: number, rgba: Uint8ClampedArray, width: number, height: number): void;
}

function abortIfNeeded(signal: AbortSignal): void {
  if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
}

/** Opens every weight file of the selection and reads its header (so a corrupt file fails fast, before any upload). */
async function openAll(selection: ModelSelection, signal: AbortSignal, onProgress: LoadProgress): Promise<SafetensorsFile[]> {
  const sources: FileSource[] = [...selection.base, ...selection.motion];
  if (selection.motionLora) sources.push(selection.motionLora.source);
  if (selection.sdLora) sources.push(selection.sdLora.source);
  const files: SafetensorsFile[] = [];
  for (const [i, s] of sources.entries()) {
    abortIfNeeded(signal);
    onProgress('parse', s.name, i, sources.length);
    files.push(await openSafetensors(await openSource(s)));
  }
  return files;
}

export async function loadSelection(engine: Engine, selection: ModelSelection, signal: AbortSignal, onProgress: LoadProgress): Promise<LoadedModels> {
  await openAll(selection, signal, onProgress);
  void engine;
  throw new Error('The generation pipeline is not part of this build yet.');
}

/** The scheduler class and config each UI scheduler choice maps to (see src/schedulers defaultSchedulerFor). */
export function schedulerFor(name: SchedulerName): SchedulerChoice {
  const version = name === 'ddim' ? 'v2' : name === 'euler-trailing' ? 'lightning' : 'animatelcm';
  const d = defaultSchedulerFor(version);
  return { className: d.className, config: d.config };
}

/** One generation: progress per step, the x0 preview, and the frames as the VAE decodes them. */
export async function runGeneration(engine: Engine, models: LoadedModels, settings: GenerateSettings, signal: AbortSignal, hooks: GenerationHooks): Promise<void> {
  let step = 0;
  await generate(models.pipeline(engine), {
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    seed: settings.seed,
    frames: settings.frames,
    width: settings.width,
    height: settings.height,
    steps: settings.steps,
    guidance: settings.guidance,
    scheduler: schedulerFor(settings.scheduler),
    // The UI counts like A1111 (1 = the last layer); the pipeline like diffusers (layers skipped).
    clipSkip: settings.clipSkip ? settings.clipSkip - 1 : 0,
  }, {
    signal,
    onStep: (info) => {
      step = info.step;
      hooks.onStep(info);
    },
    onPreview: (p) => hooks.onPreview(step + 1, p.frames, p.width, p.height),
    onFrame: (index, rgba, width, height) => hooks.onFrame(index, settings.frames, rgba, width, height),
  });
}
