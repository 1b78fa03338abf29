// The worker's bridge to the loaders and the pipeline: opens the selected files as byte sources, loads the
// models onto the engine, and runs one generation with progress, preview and per-frame hooks.

import type { Engine } from '../gpu/engine';
import type { ByteSource } from '../weights/source';
import { type LocalSelection, type LocalSource, openLocal, readLocalText } from './sources';
import { InvalidSettingsError } from './settings';
import { generate, type PipelineModels, type StepInfo, type WindowInfo } from '../pipeline/generate';
import type { GenerationSpec } from '../pipeline/spec';
import { type LoadStage, loadModels, type ModelSources, planModels } from '../pipeline/load';
import { type Precision, weightFormatOf } from '../pipeline/precision';
import type { PlanModels, RunPlan } from '../plan/plan';
import type { DerivedStore } from '../weights/derived';
import { WeightFileError } from '../weights/errors';
import { openSafetensors } from '../weights/safetensors';
import type { LoadPhase, ModelSummary } from './protocol';


export type LoadProgress = (phase: LoadPhase, file: string | undefined, loaded: number, total: number) => void;

export interface LoadedModels {
  /** The models as the memory planner sees them (shapes and configs). */
  readonly shapes: PlanModels;
  pipeline(engine: Engine): PipelineModels;
  summary(engine: Engine, loadMs: number): ModelSummary;
  dispose(): void;
}

export interface GenerationHooks {
  onTextEncoded?(): void;
  onStep(p: StepInfo): void;
  /** Context windows: window `window` of `windows` inside step `step` of `steps` is done. */
  onWindow(p: WindowInfo): void;
  onPreview(step: number, frames: Uint8ClampedArray[], width: number, height: number): void;
  onFrame(index: number, frames: number, rgba: Uint8ClampedArray, width: number, height: number): void;
}

function abortIfNeeded(signal: AbortSignal): void {
  if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
}

/** Reads a JSON file of the selection (configs, tokenizer). */
async function readJson(src: LocalSource, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const text = await readLocalText(src, signal);
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    throw new WeightFileError('bad-json', src.name, `is not a JSON object: ${(e as Error).message}`, { cause: e });
  }
}

/** The component a Hub config.json describes, from its content (diffusers `_class_name`, transformers `architectures`). */
export function configKind(c: Record<string, unknown>): 'unet' | 'motionAdapter' | 'vae' | 'text' | null {
  // Only strings are compared: String() of a hostile nested array recurses once per level (RangeError).
  const cls = c._class_name;
  if (cls === 'UNet2DConditionModel' || cls === 'UNetMotionModel') return 'unet';
  if (cls === 'MotionAdapter') return 'motionAdapter';
  if (cls === 'AutoencoderKL') return 'vae';
  const arch = Array.isArray(c.architectures) ? c.architectures : [];
  if (arch.some((a) => typeof a === 'string' && a.startsWith('CLIPText')) || c.model_type === 'clip_text_model') return 'text';
  return null;
}

const STAGE_LABEL: Record<LoadStage, string | undefined> = {
  open: undefined, map: 'matching weights to the model', unet: 'UNet + motion module', vae: 'VAE decoder', text: 'text encoder', done: undefined,
};

/** The configs of a selection, told apart by content (unknown ones are ignored). */
async function readConfigs(selection: LocalSelection, signal: AbortSignal): Promise<NonNullable<ModelSources['configs']>> {
  const configs: NonNullable<ModelSources['configs']> = {};
  for (const c of selection.configs) {
    abortIfNeeded(signal);
    const json = await readJson(c, signal);
    const kind = configKind(json);
    if (kind) configs[kind] = json;
  }
  return configs;
}

/** The selection's weight files: base, motion module, LoRAs (in this order). */
const weightFiles = (s: LocalSelection) => [...s.base, ...s.motion, ...[s.motionLora, s.sdLora].flatMap((l) => (l ? [l.source] : []))];

/**
 * The models as the memory planner sees them (shapes and configs), from the files' headers alone: every weight
 * file's header is read (a few KB each, by HTTP Range for a file not downloaded yet), so a corrupt, truncated or
 * pickled file is named before anything is downloaded, and no tensor data is read.
 */
export async function selectionShapes(selection: LocalSelection, signal: AbortSignal, onProgress: LoadProgress = () => {}): Promise<PlanModels> {
  if (selection.motion.length !== 1) throw new InvalidSettingsError(`Choose exactly one motion-module file (got ${selection.motion.length}).`);
  const files = weightFiles(selection);
  const sources: ByteSource[] = [];
  for (const [i, s] of files.entries()) {
    abortIfNeeded(signal);
    onProgress('parse', s.name, i, files.length);
    const src = await openLocal(s, signal);
    await openSafetensors(src);
    sources.push(src);
  }
  const configs = await readConfigs(selection, signal);
  abortIfNeeded(signal);
  return planModels({ base: sources.slice(0, selection.base.length), motionModule: sources[selection.base.length], configs });
}

/**
 * Loads a fetched selection (src/worker/sources.ts: local files and cached Blobs) onto `engine` in the precision the
 * worker resolved with the memory planner before anything was downloaded (`planned`: the shapes it planned from).
 * Cancelling stops between files and between components, and releases what was already uploaded. `derived`: the
 * model cache, which keeps the text encoder's graph and the quantized weights for the next load (files with a known
 * sha256 only).
 */
export async function loadSelection(
  engine: Engine, selection: LocalSelection, signal: AbortSignal, onProgress: LoadProgress, planned: { shapes: PlanModels; precision: Precision },
  derived?: DerivedStore,
): Promise<LoadedModels> {
  if (selection.motion.length !== 1) throw new InvalidSettingsError(`Choose exactly one motion-module file (got ${selection.motion.length}).`);
  const open = async (s: LocalSource) => {
    abortIfNeeded(signal);
    return openLocal(s, signal);
  };
  const base: ByteSource[] = [];
  for (const s of selection.base) base.push(await open(s));
  const motionModule = await open(selection.motion[0]);
  const lora = async (l?: { source: LocalSource; strength: number }) => (l ? [{ source: await open(l.source), strength: l.strength }] : []);
  const motionLoras = await lora(selection.motionLora);
  const loras = await lora(selection.sdLora);
  const configs = await readConfigs(selection, signal);
  const tokenizer = { json: await readJson(selection.tokenizer, signal) };
  abortIfNeeded(signal);
  const names = weightFiles(selection).map((s) => s.name);
  const sources: ModelSources = { base, motionModule, motionLoras, loras, tokenizer, configs };
  const { shapes, precision } = planned;
  const loaded = await loadModels(engine, sources, ({ stage, done, total }) => {
    if (stage === 'open') onProgress('parse', names[done], done, total);
    else if (stage !== 'done') onProgress(stage === 'map' ? 'parse' : 'upload', STAGE_LABEL[stage], done, total);
  }, { weights: weightFormatOf(precision), signal, derived });
  const components = [
    ...selection.base.map((s) => s.name),
    `${selection.motion[0].name}${loaded.motion ? ` (motion module ${loaded.motion.version})` : ''}`,
    ...[selection.motionLora, selection.sdLora].flatMap((l) => (l ? [`${l.source.name} × ${l.strength}`] : [])),
  ];
  return {
    shapes,
    pipeline: () => loaded,
    summary: (e, loadMs) => ({ precision, components: [...components, ...selection.notes], adapter: e.adapterName, loadMs, warnings: loaded.warnings }),
    dispose: () => loaded.release(),
  };
}

/** One generation: progress per step, the x0 preview, and the frames as the VAE decodes them. */
/** `plan`: the memory planner's decisions for this run (chunk budget, activation arena). */
export async function runGeneration(
  engine: Engine, models: LoadedModels, spec: GenerationSpec, signal: AbortSignal, hooks: GenerationHooks, plan?: RunPlan,
): Promise<void> {
  let step = 0;
  await generate(models.pipeline(engine), spec, {
    signal,
    onTextEncoded: hooks.onTextEncoded,
    onStep: (info) => {
      step = info.step;
      hooks.onStep(info);
    },
    onWindow: (info) => hooks.onWindow(info),
    onPreview: (p) => hooks.onPreview(step + 1, p.frames, p.width, p.height),
    onFrame: (index, rgba, width, height) => hooks.onFrame(index, spec.frames, rgba, width, height),
  }, { maxTensorBytes: plan?.maxTensorBytes, arena: plan?.arena, vae: plan?.vae });
}
