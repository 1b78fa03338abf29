// The memory planner: peak GPU memory of a generation, and how it is chunked, for any model, size, frame count,
// precision and adapter limits.
//
// Buffer reuse by liveness: the trace records the allocations of the UNet evaluation with their lifetimes, packs them
// into one arena (./arena.ts) and traces again with it; the real run replays the same arena (RunPlan.arena).
//
// How: the real pipeline (generate(): one sampling step with CFG as requested, then the VAE decode) runs on an Engine
// over a null device (./null-device.ts) with the real models loaded from shapes only (zeros). The engine's buffer
// pool records every buffer it creates, so the traced peak is the peak a real run reaches — the same model code, the
// same chunking decisions (./chunking.ts), the same pool reuse — with nothing described twice. Quantized weights
// (int8/int4) are counted by their packed size (./weights.ts) in place of their float size.
//
// What a real run adds outside the engine: the CLIP text encoder runs in onnxruntime-web on its own device, in f32
// (counted here from its parameter count: `textEncoder`).
import { Engine } from '../gpu/engine';
import { KindedError } from '../errors';
import { GpuCapabilityError } from '../gpu/errors';
import { bytesPerElement, type DType } from '../gpu/tensor';
import { inferUNetTopology, type Semantics, type UNetHyperParams } from '../models/config';
import { UNetMotion } from '../models/unet';
import { VaeDecoder, type VaeDecoderConfig } from '../models/vae-decoder';
import { generate } from '../pipeline/generate';
import { type GenerationSpec, makeSpec, parseSpec } from '../pipeline/spec';
import { defaultSchedulerFor, usesCfg } from '../schedulers';
import { ChunkingError, planUNetChunking, type UNetChunking } from './chunking';
import { fmtGiB } from './format';
import { type AdapterLimits, createNullDevice } from './null-device';
import { liveBound, packArena } from './arena';
import type { ArenaPlan } from '../gpu/pool';
import { type ShapeMap, type WeightPrecision, weightBytes, zeroWeights } from './weights';

export type { AdapterLimits, ShapeMap, WeightPrecision };

/** The models of a run, as shapes (a safetensors header, a manifest or a loaded WeightMap all give these). */
export interface PlanModels {
  /** Canonical UNet + motion-module names and shapes (diffusers UNetMotionModel). */
  unet: ShapeMap;
  hyper: UNetHyperParams;
  /** Canonical VAE names and shapes (diffusers AutoencoderKL; only the decoder is used). */
  vae: ShapeMap;
  vaeConfig?: VaeDecoderConfig;
  /** Canonical text-encoder names and shapes (transformers CLIPTextModel), when it runs on this GPU too. */
  text?: ShapeMap;
  semantics?: Semantics;
}

export interface RunShape {
  width: number;
  height: number;
  frames: number;
  /** Classifier-free guidance: the UNet sees 2 samples per step. */
  cfg: boolean;
  /** Activation (compute) dtype. */
  activations: DType;
  /** Storage of the UNet's linear and conv weights (norms, biases, VAE stay in the activation dtype). */
  weights: WeightPrecision;
  /**
   * The run's spec, when known (the worker always has it): the trace then runs what will actually run — context
   * windows (FreeNoise, uniform), prompt travel's per-frame text, motion strength — one step of it, FreeInit aside
   * (its iterations repeat the same steps). Its width, height, frames and guidance must agree with the fields above.
   * Absent: a plain spec (one prompt, no windows).
   */
  spec?: GenerationSpec;
}

/** The RunShape of a spec at a precision (the spec rides along, so the planner traces it as it will run). */
export function runShapeOf(spec: GenerationSpec, precision: { activations: DType; weights: WeightPrecision }): RunShape {
  return { width: spec.width, height: spec.height, frames: spec.frames, cfg: usesCfg(spec.guidance), activations: precision.activations, weights: precision.weights, spec };
}

/** The spec the planner traces: the run's own (one step, no FreeInit, seed 0), or a plain one. */
function traceSpec(run: RunShape): GenerationSpec {
  if (!run.spec) {
    return makeSpec({ prompt: '(zero embeddings)', seed: 0, frames: run.frames, width: run.width, height: run.height, steps: 1, guidance: run.cfg ? 7.5 : 1 });
  }
  const s = parseSpec(run.spec);
  if (s.width !== run.width || s.height !== run.height || s.frames !== run.frames || usesCfg(s.guidance) !== run.cfg) {
    throw new RangeError(`planRun: the spec (${s.width}×${s.height}, ${s.frames} frames, guidance ${s.guidance}) disagrees with the run shape (${run.width}×${run.height}, ${run.frames} frames, CFG ${run.cfg ? 'on' : 'off'})`);
  }
  return { ...s, steps: 1, freeInit: null, seed: 0 };
}

export interface PlanLimits extends AdapterLimits {
  /**
   * GPU memory the run may use, when known (a user setting or a benchmark's budget). Given, the planner lowers its
   * chunk budget (the largest tensor one layer may make) from the binding limit until the run fits; absent, it keeps
   * the binding limit (fewest dispatches) and only the adapter's limits are checked.
   */
  memoryBytes?: number;
}

/** Chunk budgets the planner tries, largest first (each capped at the binding limit). */
const CHUNK_BUDGETS = [Infinity, 2 ** 30, 2 ** 29, 2 ** 28, 2 ** 27, 2 ** 26];

export interface MemoryBreakdown {
  /** UNet + motion modules as stored (float or quantized), PE tables included. */
  unetWeights: number;
  vaeWeights: number;
  /** Activations at the UNet's peak (everything the engine holds above the weights, pool reuse included). */
  unetActivations: number;
  /** Activations at the VAE decode's peak. */
  vaeActivations: number;
  /** CLIP text encoder weights (f32 in onnxruntime-web, its own device); 0 when not given. */
  textEncoder: number;
}

export interface RunPlan {
  /** The chunk budget: the largest tensor one UNet layer may make (pass it to generate() as `maxTensorBytes`). */
  maxTensorBytes: number;
  /** Where each UNet activation lives, packed by liveness (pass it to generate() as `arena`); null: the pool. */
  arena: ArenaPlan | null;
  /** The most UNet activation bytes alive at once: the arena's lower bound. */
  liveBoundBytes: number;
  /** Peak bytes of every buffer our engine allocates (what `engine.pool.stats().peakBytes` tracks in a real run). */
  enginePeakBytes: number;
  /** enginePeakBytes + the text encoder: the run's GPU memory. */
  peakBytes: number;
  breakdown: MemoryBreakdown;
  chunking: UNetChunking;
  /**
   * VAE decode (pass it to generate() as `vae`): image rows per row tile, the whole image when every tensor of the
   * decode fits one binding, else the largest multiple of the VAE's scale factor that does (traced); and frames per
   * decode call, as many as keep the decode's activations under the UNet's (the run's peak stays the same).
   */
  vae: { frames: number; rows: number };
  /** Whether it fits `limits.memoryBytes` (true when no budget is given) — set only when the run can be chunked at all. */
  fits: boolean;
  /** Why it does not fit, in words (the planner's figure against the adapter's). */
  reason?: string;
}

/** A run the planner refuses: it cannot be split under the adapter's limits, or it does not fit the memory budget. */
export class PlanRefusedError extends KindedError {
  constructor(message: string, readonly plan?: RunPlan) {
    super('capability', message);
  }
}

/**
 * Peak memory and chunking of one generation (see the file comment). Throws PlanRefusedError when no chunking fits
 * the adapter's limits; with `limits.memoryBytes`, returns the first chunk budget that fits it (or the smallest
 * peak, with `fits: false` and the reason).
 */
export async function planRun(models: PlanModels, run: RunShape, limits: PlanLimits): Promise<RunPlan> {
  const budgets = [...new Set(CHUNK_BUDGETS.map((b) => Math.min(b, limits.maxStorageBufferBindingSize)))];
  let best: RunPlan | null = null;
  for (const [i, budget] of budgets.entries()) {
    let plan: RunPlan;
    try {
      plan = await planWithBudget(models, run, limits, budget);
    } catch (err) {
      // A smaller budget than the first may be refused (a tensor that cannot be split that small): keep the best so far.
      if (i > 0 && err instanceof PlanRefusedError && best) break;
      throw err;
    }
    if (!best || plan.peakBytes < best.peakBytes) best = plan;
    if (limits.memoryBytes === undefined || plan.fits) return plan;
  }
  return best!;
}

async function planWithBudget(models: PlanModels, run: RunShape, limits: PlanLimits, maxTensorBytes: number): Promise<RunPlan> {
  const e = Engine.fromDevice(createNullDevice(limits), run.activations, { simulated: true });
  const unetZeros = zeroWeights(models.unet);
  const topo = inferUNetTopology(unetZeros, models.hyper.motionVersion);
  const unet = await UNetMotion.load(e, unetZeros, models.hyper, { semantics: models.semantics });
  const afterUnet = e.pool.stats().liveBytes;
  const vae = await VaeDecoder.load(e, zeroWeights(models.vae), models.vaeConfig);
  const afterVae = e.pool.stats().liveBytes;
  const scale = vae.upscale;
  const [h, w] = [run.height / scale, run.width / scale];
  const batch = run.cfg ? 2 : 1;
  const bpv = bytesPerElement(run.activations);
  const lim = { maxTensorBytes, align: e.limits.minStorageBufferOffsetAlignment, bytesPerValue: bpv };
  const spec = traceSpec(run);
  // With UNet-level context windows each UNet call sees one window of frames.
  const framesPerCall = spec.context?.method === 'uniform' ? Math.min(run.frames, spec.context.length) : run.frames;
  let chunking: UNetChunking;
  try {
    chunking = planUNetChunking(topo, { batch, frames: framesPerCall, h, w, pooledFrames: false }, lim);
  } catch (err) {
    if (err instanceof ChunkingError) throw new PlanRefusedError(`${run.width}×${run.height} with ${run.frames} frames cannot be split to fit this GPU: ${err.message}`);
    throw err;
  }

  // The VAE's row tiles for one frame per call; the trace below decodes with them.
  // (A size that is not a multiple of its scale factor is refused by generate() in the trace, with its reason.)
  // The search runs on an engine of its own: a decode that fails part-way may leave buffers behind, which must not
  // count in this engine's peaks.
  const probe = Engine.fromDevice(createNullDevice(limits), run.activations, { simulated: true });
  const probeVae = await VaeDecoder.load(probe, zeroWeights(models.vae), models.vaeConfig);
  let vaeSplit = { frames: 1, rows: Number.isInteger(h) && Number.isInteger(w) ? vaeRowsFor(probe, probeVae, 1, h, w) : run.height };

  // The trace: one step (every step allocates the same), then the decode of two frames (each frame the same).
  // The text encoder is a zero one, so the spec's prompts take their real path (prompt travel: one text row per
  // frame and CFG half).
  const sched = defaultSchedulerFor('v2');
  const tokens = 77;
  const dim = topo.crossAttentionDim;
  const text = { tokens, dim, encode: async (prompts: string[]) => new Float32Array(prompts.length * tokens * dim) };
  const trace = async (arena: ArenaPlan | null) => {
    let unetPeak = 0;
    // Idle buffers of an earlier trace's decode would count in this one's UNet peak (generate() trims them, but
    // only after the peak measurement starts).
    e.pool.trim();
    e.pool.resetPeak();
    try {
      await generate({ engine: e, unet, vae, text }, spec, {
        onStep: () => { unetPeak = e.pool.stats().peakBytes; },
      }, {
        scheduler: { className: sched.className, config: sched.config },
        decodeFrames: Math.min(run.frames, 2), maxTensorBytes, arena, vae: vaeSplit,
      });
    } catch (err) {
      if (err instanceof ChunkingError || err instanceof RangeError || err instanceof GpuCapabilityError) {
        throw new PlanRefusedError(`${run.width}×${run.height} with ${run.frames} frames does not fit this GPU's limits: ${(err as Error).message}`);
      }
      throw err;
    }
    return { unetPeak, vaePeak: e.pool.stats().peakSinceTrimBytes }; // generate() trims the pool between sampling and decoding
  };
  // 1. record the UNet evaluation's allocations and lifetimes; 2. pack them by liveness into one arena; 3. trace
  // again with the arena, as the real run will use it (the peaks of the second trace are the plan's).
  e.pool.startRecording();
  const pooled = await trace(null);
  const rec = e.pool.takeRecording();
  const allocs = rec?.allocs ?? null;
  const arena = rec && rec.allocs.length ? packArena(rec.allocs, rec.together) : null;
  const useArena = arena !== null && arena.slabs.every((b) => b <= limits.maxBufferSize);
  const traced = useArena ? await trace(arena) : pooled;
  const { unetPeak } = traced;
  let { vaePeak } = traced;
  // Frames per decode call: as many as keep the decode's activations (traced alone, as generate() runs it after
  // trimming the pool) under the UNet's, so the run's peak does not grow; each call's row tiles chosen again.
  const perFrame = vaePeak - afterVae;
  const unetAct = unetPeak - afterVae;
  const want = perFrame > 0 ? Math.min(run.frames, Math.floor(unetAct / perFrame)) : 1;
  if (want > 1) {
    try {
      const split = { frames: want, rows: vaeRowsFor(probe, probeVae, want, h, w) };
      const peak = traceDecode(e, vae, split, h, w, Math.min(run.frames, 2 * want));
      if (peak - afterVae <= unetAct) [vaeSplit, vaePeak] = [split, peak];
    } catch (err) {
      if (!(err instanceof PlanRefusedError)) throw err;
    }
  }
  unet.release();
  vae.release();
  probeVae.release();

  // The trace stored the GEMM weights in the activation dtype; swap in their size in the requested precision.
  const unetWeights = afterUnet - weightBytes(models.unet, run.activations, run.activations) + weightBytes(models.unet, run.weights, run.activations);
  const vaeWeights = afterVae - afterUnet;
  const weightsTraced = afterVae;
  const breakdown: MemoryBreakdown = {
    unetWeights,
    vaeWeights,
    unetActivations: Math.max(0, unetPeak - weightsTraced),
    vaeActivations: Math.max(0, vaePeak - weightsTraced),
    textEncoder: models.text ? weightBytes(models.text, 'f32', 'f32', () => false) : 0,
  };
  const enginePeakBytes = unetWeights + vaeWeights + Math.max(breakdown.unetActivations, breakdown.vaeActivations);
  const peakBytes = enginePeakBytes + breakdown.textEncoder;
  const plan: RunPlan = { maxTensorBytes, arena: useArena ? arena : null, liveBoundBytes: allocs ? liveBound(allocs) : 0, enginePeakBytes, peakBytes, breakdown, chunking, vae: vaeSplit, fits: true };
  if (limits.memoryBytes !== undefined && peakBytes > limits.memoryBytes) {
    plan.fits = false;
    plan.reason = `${run.width}×${run.height} with ${run.frames} frames needs ${fmtGiB(peakBytes)} of GPU memory; ${fmtGiB(limits.memoryBytes)} is available`;
  }
  return plan;
}

/**
 * Peak bytes of decoding `frames` frames (`split.frames` per call, as generate() does after its pool trim) on the
 * planner's engine; the pool is trimmed first. Throws PlanRefusedError when a tensor exceeds the adapter's limits.
 */
function traceDecode(e: Engine, vae: VaeDecoder, split: { frames: number; rows: number }, h: number, w: number, frames: number): number {
  e.pool.trim();
  const latent = new Float32Array(vae.latentChannels * h * w);
  try {
    for (let f = 0; f < frames; f += split.frames) {
      vae.decodeFrames(new Array(Math.min(split.frames, frames - f)).fill(latent), h, w, { rows: split.rows }).release();
    }
  } catch (err) {
    if (err instanceof RangeError || err instanceof GpuCapabilityError) throw new PlanRefusedError(`the VAE decode of ${split.frames} frame(s) does not fit this GPU's limits: ${err.message}`);
    throw err;
  }
  const peak = e.pool.stats().peakSinceTrimBytes;
  e.pool.trim();
  return peak;
}

/**
 * Image rows per VAE row tile for `frames` frames per call: the whole image when its decode binds nothing over the
 * adapter's limits, else the largest multiple of the VAE's scale factor (halving the latent rows) that does,
 * found by tracing the real decode. Throws PlanRefusedError when even one latent row per tile does not fit.
 */
function vaeRowsFor(e: Engine, vae: VaeDecoder, frames: number, h: number, w: number): number {
  let last: unknown;
  for (let rows = h; ; rows = Math.ceil(rows / 2)) {
    try {
      traceDecode(e, vae, { frames, rows: rows * vae.upscale }, h, w, frames);
      return rows * vae.upscale;
    } catch (err) {
      if (!(err instanceof PlanRefusedError)) throw err;
      last = err;
    }
    if (rows === 1) throw last;
  }
}
