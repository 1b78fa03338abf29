// Model loading for the pipeline: weight files (any supported layout, src/weights) → UNet + motion modules (with
// MotionLoRA / SD LoRA merged at the requested strengths), VAE decoder, CLIP text encoder + tokenizer, and the
// scheduler defaults of the detected motion-module version.
import type { Engine } from '../gpu/engine';
import { hyperParamsFromDiffusers, type MotionVersion as UNetMotionVersion, type Semantics } from '../models/config';
import { UNetMotion } from '../models/unet';
import type { WeightFormat } from '../ops/weights';
import { VaeDecoder } from '../models/vae-decoder';
import { defaultSchedulerFor, type MotionModuleVersion, type SchedulerDefaults } from '../schedulers';
import { type ClipTextEncoder, type ClipTextEncoderOptions, clipTextGraph, createClipTextEncoder } from '../text/clip-encoder';
import { type ClipTokenizer, createClipTokenizer } from '../text/tokenizer';
import { checkConfigsMatchWeights } from '../weights/consistency';
import { WeightFileError } from '../weights/errors';
import { loadWeights } from '../weights/load';
import type { MotionModuleInfo, MotionVersion } from '../weights/layouts/motion';
import { openSafetensors, type SafetensorsFile } from '../weights/safetensors';
import type { ByteSource } from '../weights/source';
import type { DerivedContext, DerivedStore } from '../weights/derived';
import { QuantizedCacheSession, type QuantizedCacheStats } from '../weights/quantized-cache';
import type { WeightMap } from '../weights/weight-map';
import type { PlanModels } from '../plan/plan';
import type { PipelineModels, TextConditioner } from './generate';

export interface ModelSources {
  /** SD1.5 weights: a single-file checkpoint, or separate UNet / VAE / text-encoder files (any layout). */
  base: ByteSource[];
  /** The motion module (original AnimateDiff or diffusers MotionAdapter layout). */
  motionModule: ByteSource;
  /** MotionLoRA files (camera motions) and SD LoRAs, merged into the weights at `strength`. */
  motionLoras?: { source: ByteSource; strength: number }[];
  loras?: { source: ByteSource; strength: number }[];
  /** Parsed tokenizer.json (+ tokenizer_config.json). */
  tokenizer: { json: object; config?: object };
  /**
   * diffusers / transformers config.json objects, when known: head counts and GroupNorm groups are not in the
   * weights. Default: SD1.5 (8 heads, 32 groups; VAE 32 groups, scaling 0.18215; CLIP ViT-L/14).
   */
  configs?: { unet?: Record<string, any>; motionAdapter?: Record<string, any>; vae?: Record<string, any>; text?: Record<string, any> };
  /** Overrides the detected motion-module version (v1/v3 and v2/Lightning/LCM share key layouts). */
  motionVersion?: MotionVersion;
  /** Motion-module GroupNorm semantics (default official AnimateDiff). */
  semantics?: Semantics;
}

export type LoadStage = 'open' | 'map' | 'unet' | 'vae' | 'text' | 'done';
export type LoadProgress = (p: { stage: LoadStage; done: number; total: number }) => void;

export interface LoadedPipeline extends PipelineModels {
  text: TextConditioner;
  /** The motion module's detected version etc. */
  motion?: MotionModuleInfo;
  /** Scheduler, steps and guidance to use with this motion module unless the user picks others. */
  defaults: SchedulerDefaults;
  warnings: string[];
  release(): void;
}

/** Scheduler defaults per motion-module version: DDIM 25 × CFG 7.5 (v1–v3), Euler trailing (Lightning), LCM (AnimateLCM). */
export function schedulerDefaultsFor(version: MotionVersion | undefined): SchedulerDefaults {
  const map: Record<MotionVersion, MotionModuleVersion> = { v1: 'v1', v2: 'v2', v3: 'v3', lightning: 'lightning', lcm: 'animatelcm' };
  return defaultSchedulerFor(map[version ?? 'v2']);
}

/** The UNet's official-semantics version: Lightning and AnimateLCM are v2-class modules. */
const unetVersion = (v: MotionVersion | undefined): UNetMotionVersion | undefined => (v === 'v1' || v === 'v3' ? v : v ? 'v2' : undefined);

/** Prompts → embeddings with one ORT session per CLIP-skip value (created on first use). */
function textConditioner(tokenizer: ClipTokenizer, weights: WeightMap, opts: ClipTextEncoderOptions, first: ClipTextEncoder): TextConditioner & { dispose(): void } {
  const encoders = new Map<number, Promise<ClipTextEncoder>>([[0, Promise.resolve(first)]]);
  return {
    tokens: tokenizer.maxLength,
    dim: first.width,
    async encode(prompts, clipSkip) {
      let enc = encoders.get(clipSkip);
      if (!enc) encoders.set(clipSkip, (enc = createClipTextEncoder(weights, { ...opts, clipSkip })));
      const ids = new Int32Array(prompts.length * tokenizer.maxLength);
      prompts.forEach((p, i) => ids.set(tokenizer.tokenize(p), i * tokenizer.maxLength));
      return (await enc).encode(ids, prompts.length);
    },
    dispose() {
      for (const e of encoders.values()) void e.then((x) => x.dispose()).catch(() => undefined);
    },
  };
}

/**
 * What the memory planner needs of the models, from the files' headers only (nothing is downloaded beyond them):
 * canonical names and shapes, the hyper-parameters and the VAE config. LoRAs change no shape and are not read.
 */
export async function planModels(sources: Pick<ModelSources, 'base' | 'motionModule' | 'configs' | 'motionVersion' | 'semantics'>): Promise<PlanModels> {
  const files: SafetensorsFile[] = [];
  for (const s of [...sources.base, sources.motionModule]) files.push(await openSafetensors(s));
  const w = await loadWeights(files, { motionVersion: sources.motionVersion });
  if (!w.unet || !w.vae) throw new WeightFileError('missing-keys', files.map((f) => f.name).join(', '), `the files do not provide the ${!w.unet ? 'UNet' : 'VAE decoder'}`);
  const cfg = sources.configs ?? {};
  return {
    unet: w.unet,
    hyper: { ...hyperParamsFromDiffusers(cfg.unet ?? {}, cfg.motionAdapter ?? {}), motionVersion: unetVersion(w.motion?.version) },
    vae: w.vae,
    vaeConfig: { groups: cfg.vae?.norm_num_groups, scalingFactor: cfg.vae?.scaling_factor },
    text: w.textEncoder,
    semantics: sources.semantics,
  };
}

export interface LoadModelsOptions {
  /** Storage of the UNet's and motion modules' linear and conv weights (quantized at load, after LoRA merges). */
  weights?: WeightFormat;
  /**
   * Where data derived from the files is kept between loads (the model cache): the text encoder's ONNX graph, and
   * with int8/int4 weights the quantized UNet + motion module. Used only when every input file's sha256 is known.
   */
  derived?: DerivedStore;
  /** Told what the derived data did in this load (tests, the load summary). */
  onDerived?(report: DerivedReport): void;
  /** Cancels the load: checked between files and between components; what was uploaded is released. */
  signal?: AbortSignal;
}

export interface DerivedReport {
  /** The text encoder's graph was read back instead of built; null: not cached (an input without a sha256). */
  textGraphCached: boolean | null;
  /** Quantized UNet + motion weights: read back, quantized now, rebuilt; null: float weights or not cached. */
  quantized: QuantizedCacheStats | null;
}

/**
 * The derived-data contexts of a load: the UNet's quantized weights depend on every weight file, LoRA and strength
 * and the format; the text encoder on the base files and the SD LoRAs. Null where an input has no known sha256.
 */
function derivedContexts(store: DerivedStore | undefined, sources: ModelSources, format: WeightFormat) {
  const sha = (s: ByteSource[]) => (s.every((x) => x.sha256) ? s.map((x) => x.sha256!) : null);
  const loras = (tag: string, l: { source: ByteSource; strength: number }[] = []) => l.map((x) => `${tag}:${x.source.sha256}*${x.strength}`);
  const base = sha(sources.base), motion = sha([sources.motionModule]);
  const loraFiles = sha([...(sources.motionLoras ?? []), ...(sources.loras ?? [])].map((l) => l.source));
  const sdLoraFiles = sha((sources.loras ?? []).map((l) => l.source));
  if (!store || !base) return { unet: null, text: null };
  const sdLoras = loras('lora', sources.loras);
  const text: DerivedContext | null = sdLoraFiles ? { store, inputs: [...base, ...sdLoraFiles], params: sdLoras } : null;
  const unet: DerivedContext | null = motion && loraFiles && format !== 'float'
    ? { store, inputs: [...base, ...motion, ...loraFiles], params: [...loras('motion-lora', sources.motionLoras), ...sdLoras, `motion:${sources.motionVersion ?? 'detected'}`] }
    : null;
  return { unet, text };
}

/** Throws an AbortError when `signal` is aborted. */
function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
}

export async function loadModels(engine: Engine, sources: ModelSources, onProgress: LoadProgress = () => {}, opts: LoadModelsOptions = {}): Promise<LoadedPipeline> {
  const signal = opts.signal;
  const all = [...sources.base, sources.motionModule];
  const loraSources = [...(sources.motionLoras ?? []), ...(sources.loras ?? [])];
  const total = all.length + loraSources.length;
  const files: SafetensorsFile[] = [];
  for (const [i, s] of [...all, ...loraSources.map((l) => l.source)].entries()) {
    checkAbort(signal);
    onProgress({ stage: 'open', done: i, total });
    files.push(await openSafetensors(s));
  }
  onProgress({ stage: 'map', done: 0, total: 1 });
  const w = await loadWeights(files.slice(0, all.length), {
    motionVersion: sources.motionVersion,
    loras: loraSources.map((l, i) => ({ file: files[all.length + i], strength: l.strength })),
  });
  const missing = [!w.unet && 'UNet', !w.motionConfig && 'motion module', !w.vae && 'VAE decoder', !w.textEncoder && 'text encoder'].filter(Boolean);
  if (missing.length || !w.unet || !w.vae || !w.textEncoder) {
    throw new WeightFileError('missing-keys', files.map((f) => f.name).join(', '), `the files do not provide the ${missing.join(', ')}`);
  }
  const cfg = sources.configs ?? {};
  checkConfigsMatchWeights(cfg, w, w.owners ?? {});
  const release: (() => void)[] = [];
  const format = opts.weights ?? 'float';
  const derived = derivedContexts(opts.derived, sources, format);
  const report: DerivedReport = { textGraphCached: null, quantized: null };
  let quantized: QuantizedCacheSession | null = null;
  try {
    checkAbort(signal);
    onProgress({ stage: 'unet', done: 0, total: 3 });
    const hyper = { ...hyperParamsFromDiffusers(cfg.unet ?? {}, cfg.motionAdapter ?? {}), motionVersion: unetVersion(w.motion?.version) };
    if (derived.unet && format !== 'float') quantized = await QuantizedCacheSession.open(derived.unet, `unet-${format}`, `UNet + motion module (${format})`);
    const unet = await UNetMotion.load(engine, w.unet, hyper, { semantics: sources.semantics, weights: format, quantized: quantized ?? undefined });
    release.push(() => unet.release());
    if (quantized) {
      // Committing the new (or rebuilt) entry is part of this load; a store that fails here only costs the next load.
      await quantized.finish().catch(() => undefined);
      report.quantized = quantized.stats;
      quantized = null;
    }
    checkAbort(signal);
    onProgress({ stage: 'vae', done: 1, total: 3 });
    const vae = await VaeDecoder.load(engine, w.vae, { groups: cfg.vae?.norm_num_groups, scalingFactor: cfg.vae?.scaling_factor });
    release.push(() => vae.release());
    checkAbort(signal);
    onProgress({ stage: 'text', done: 2, total: 3 });
    const t = cfg.text ?? {};
    const textOpts: ClipTextEncoderOptions = {
      heads: t.num_attention_heads, hiddenAct: t.hidden_act === 'gelu' ? 'gelu' : 'quick_gelu', layerNormEps: t.layer_norm_eps, derived: derived.text ?? undefined,
    };
    const graph = await clipTextGraph(w.textEncoder, textOpts);
    report.textGraphCached = derived.text ? graph.cached : null;
    const encoder = await createClipTextEncoder(w.textEncoder, textOpts, graph);
    const text = textConditioner(createClipTokenizer(sources.tokenizer.json, sources.tokenizer.config ?? {}), w.textEncoder, textOpts, encoder);
    release.push(() => text.dispose());
    checkAbort(signal);
    opts.onDerived?.(report);
    onProgress({ stage: 'done', done: 3, total: 3 });
    return {
      engine, unet, vae, text, motion: w.motion, defaults: schedulerDefaultsFor(w.motion?.version), warnings: w.warnings,
      release: () => release.splice(0).reverse().forEach((r) => r()),
    };
  } catch (e) {
    await quantized?.abort().catch(() => undefined);
    release.splice(0).reverse().forEach((r) => r());
    throw e;
  }
}
