// The worker's bridge to the loaders and the pipeline: opens the selected files as byte sources, loads the
// models onto the engine, and runs one generation with progress, preview and per-frame hooks.

import type { Engine } from '../gpu/engine';
import { openSafetensors, type SafetensorsFile } from '../weights/safetensors';
import { blobSource, type ByteSource, openUrlSource } from '../weights/source';
import { InvalidSettingsError } from './errors';
import { UNetMotion } from '../models/unet';
import { hyperParamsFromDiffusers } from '../models/config';
import { VaeDecoder } from '../models/vae-decoder';
import { generate, type PipelineModels, type SchedulerChoice, type TextConditioner } from '../pipeline/generate';
import { type ClipTextEncoder, type ClipTextEncoderOptions, createClipTextEncoder, type WeightMap as ClipWeightMap } from '../text/clip-encoder';
import { type ClipTokenizer, createClipTokenizer } from '../text/tokenizer';
import { WeightFileError } from '../weights/errors';
import { loadWeights } from '../weights/load';
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

/** Opens every weight file and reads its header, so a corrupt or foreign file fails before anything is uploaded. */
async function openAll(sources: FileSource[], signal: AbortSignal, onProgress: LoadProgress): Promise<SafetensorsFile[]> {
  const files: SafetensorsFile[] = [];
  for (const [i, s] of sources.entries()) {
    abortIfNeeded(signal);
    onProgress('parse', s.name, i, sources.length);
    files.push(await openSafetensors(await openSource(s)));
  }
  return files;
}

/** Reads a JSON file of the selection (configs, tokenizer). */
async function readJson(src: FileSource): Promise<Record<string, unknown>> {
  let text: string;
  try {
    if (src.kind === 'file') {
      text = await src.file.text();
    } else {
      const res = await fetch(src.url);
      if (!res.ok) throw new WeightFileError('io', src.name, `HTTP ${res.status} while fetching it`);
      text = await res.text();
    }
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError('io', src.name, `cannot read it: ${String(e)}`, { cause: e });
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    throw new WeightFileError('bad-json', src.name, `is not a JSON object: ${(e as Error).message}`, { cause: e });
  }
}

/** The component a Hub config.json describes, from its content (diffusers `_class_name`, transformers `architectures`). */
function configKind(c: Record<string, unknown>): 'unet' | 'motion' | 'vae' | 'text' | null {
  const cls = String(c._class_name ?? '');
  if (cls === 'UNet2DConditionModel' || cls === 'UNetMotionModel') return 'unet';
  if (cls === 'MotionAdapter') return 'motion';
  if (cls === 'AutoencoderKL') return 'vae';
  const arch = Array.isArray(c.architectures) ? c.architectures.map(String) : [];
  if (arch.some((a) => a.startsWith('CLIPText')) || c.model_type === 'clip_text_model') return 'text';
  return null;
}

/** Prompts → [n, 77, D] embeddings: the CLIP tokenizer and the ORT text encoder (one session per CLIP-skip value). */
function textConditioner(tokenizer: ClipTokenizer, weights: ClipWeightMap, opts: ClipTextEncoderOptions, first: ClipTextEncoder): TextConditioner & { dispose(): void } {
  const encoders = new Map<number, Promise<ClipTextEncoder>>([[opts.clipSkip ?? 0, Promise.resolve(first)]]);
  return {
    tokens: tokenizer.maxLength,
    dim: first.width,
    async encode(prompts, clipSkip) {
      let enc = encoders.get(clipSkip);
      if (!enc) {
        enc = createClipTextEncoder(weights, { ...opts, clipSkip });
        encoders.set(clipSkip, enc);
      }
      const ids = new Int32Array(prompts.length * tokenizer.maxLength);
      prompts.forEach((p, i) => ids.set(tokenizer.tokenize(p), i * tokenizer.maxLength));
      return (await enc).encode(ids, prompts.length);
    },
    dispose() {
      for (const e of encoders.values()) void e.then((x) => x.dispose()).catch(() => undefined);
    },
  };
}

export async function loadSelection(engine: Engine, selection: ModelSelection, signal: AbortSignal, onProgress: LoadProgress): Promise<LoadedModels> {
  const weightSources = [...selection.base, ...selection.motion];
  const loraSources = [selection.motionLora, selection.sdLora].filter((l): l is { source: FileSource; strength: number } => !!l);
  const files = await openAll([...weightSources, ...loraSources.map((l) => l.source)], signal, onProgress);
  const configs: Partial<Record<'unet' | 'motion' | 'vae' | 'text', Record<string, unknown>>> = {};
  for (const c of selection.configs) {
    const json = await readJson(c);
    const kind = configKind(json);
    if (kind) configs[kind] = json;
  }
  const tokenizer = createClipTokenizer(await readJson(selection.tokenizer));
  abortIfNeeded(signal);

  const weights = await loadWeights(files.slice(0, weightSources.length), {
    loras: loraSources.map((l, i) => ({ file: files[weightSources.length + i], strength: l.strength })),
  });
  const missing = [!weights.unet && 'UNet', !weights.motion && !weights.motionConfig && 'motion module', !weights.vae && 'VAE', !weights.textEncoder && 'text encoder'].filter(Boolean);
  if (!weights.unet || !weights.vae || !weights.textEncoder || missing.length) {
    throw new WeightFileError('missing-keys', files.map((f) => f.name).join(', '), `the chosen files do not provide the ${missing.join(', ')}`);
  }

  const released: (() => void)[] = [];
  try {
    onProgress('upload', 'UNet + motion module', 0, 3);
    const unet = await UNetMotion.load(engine, weights.unet, hyperParamsFromDiffusers(configs.unet ?? {}, configs.motion ?? {}));
    released.push(() => unet.release());
    abortIfNeeded(signal);
    onProgress('upload', 'VAE decoder', 1, 3);
    const vaeCfg = configs.vae ?? {};
    const vae = await VaeDecoder.load(engine, weights.vae, {
      groups: typeof vaeCfg.norm_num_groups === 'number' ? vaeCfg.norm_num_groups : undefined,
      scalingFactor: typeof vaeCfg.scaling_factor === 'number' ? vaeCfg.scaling_factor : undefined,
    });
    released.push(() => vae.release());
    abortIfNeeded(signal);
    onProgress('upload', 'text encoder', 2, 3);
    const t = configs.text ?? {};
    const textOpts: ClipTextEncoderOptions = {
      heads: typeof t.num_attention_heads === 'number' ? t.num_attention_heads : undefined,
      hiddenAct: t.hidden_act === 'gelu' ? 'gelu' : 'quick_gelu',
      layerNormEps: typeof t.layer_norm_eps === 'number' ? t.layer_norm_eps : undefined,
    };
    const encoder = await createClipTextEncoder(weights.textEncoder, textOpts);
    const text = textConditioner(tokenizer, weights.textEncoder, textOpts, encoder);
    released.push(() => text.dispose());
    onProgress('upload', undefined, 3, 3);
    const components = [
      ...weights.files.map((f) => `${f.name} (${f.detected.kind}, ${f.detected.layout}${f.detected.motion ? `, ${f.detected.motion.version}` : ''})`),
      ...loraSources.map((l) => `${l.source.name} × ${l.strength}`),
      `text encoder on ${encoder.ep}`,
    ];
    return {
      pipeline: (e) => ({ engine: e, unet, vae, text }),
      summary: (e, loadMs) => ({ precision: e.dtype, components, adapter: e.adapterName, loadMs }),
      dispose: () => released.forEach((r) => r()),
    };
  } catch (e) {
    released.forEach((r) => r());
    throw e;
  }
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
