// The memory planner (src/plan) as the worker uses it: its verdict on a run from the models' headers and the
// adapter's limits, before anything is downloaded or uploaded. One `RunPlanner` per worker caches the models'
// shapes per selection and the plans per shapes × settings (each plan is a full trace of the pipeline), so the UI's
// `plan` request and the generation that follows it share the same work. Pure of the DOM; runs in Node in tests.

import type { Engine } from '../gpu/engine';
import type { GenerationSpec } from '../pipeline/spec';
import { LIMITS } from '../pipeline/spec';
import { type Precision, type PrecisionSetting, resolvePrecision } from '../pipeline/precision';
import { type PlanLimits, type PlanModels, PlanRefusedError, planRun, type RunPlan, runShapeOf } from '../plan/plan';
import { usesCfg } from '../schedulers';
import type { ModelCache } from '../delivery/cache';
import type { DownloadProgress } from '../delivery/progress';
import type { ModelSelection, PlanChange, PlanVerdict } from './protocol';
import { formatBytes } from './capability';
import { type LoadProgress, selectionShapes } from './runner';
import { fetchSelection, type LocalSelection, peekSelection, type ResolvedSelection, resolveSelection } from './sources';

/** The GPU a run is planned for: whether it has shader-f16, and the limits a device gets (Engine.create asks for the adapter's). */
export interface PlanTarget {
  f16: boolean;
  /** A fixed activation dtype (an engine already made), or null: resolved from the setting and `f16`. */
  dtype: 'f16' | 'f32' | null;
  limits: PlanLimits;
}

/** The target of a running engine: its dtype and the limits it was created with. */
export function engineTarget(e: Engine): PlanTarget {
  return {
    f16: e.features.f16, dtype: e.dtype,
    limits: {
      maxStorageBufferBindingSize: e.maxBindingBytes, maxBufferSize: e.limits.maxBufferSize,
      minStorageBufferOffsetAlignment: e.limits.minStorageBufferOffsetAlignment, maxComputeWorkgroupsPerDimension: e.limits.maxComputeWorkgroupsPerDimension,
    },
  };
}

/**
 * The target of an adapter before any device exists: the limits Engine.create requests are the adapter's own
 * (the binding limit capped at `maxBindingBytes`, as the engine caps it).
 */
export function adapterTarget(a: GPUAdapter, maxBindingBytes = Infinity): PlanTarget {
  const l = a.limits;
  return {
    f16: a.features.has('shader-f16'), dtype: null,
    limits: {
      maxStorageBufferBindingSize: Math.min(l.maxStorageBufferBindingSize, maxBindingBytes), maxBufferSize: l.maxBufferSize,
      // Engine.create does not ask for a lower alignment, so its device has WebGPU's default of 256.
      minStorageBufferOffsetAlignment: Math.max(l.minStorageBufferOffsetAlignment, 256), maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** The frames one UNet call sees: with UNet-level context windows, one window. */
const unetFrames = (s: GenerationSpec) => (s.context?.method === 'uniform' ? Math.min(s.frames, s.context.length) : s.frames);

/** "the adapter allows 128 MB per buffer binding, 1.0 GB per buffer" */
export function describeLimits(l: PlanLimits): string {
  return `this GPU allows ${formatBytes(l.maxStorageBufferBindingSize)} per buffer binding and ${formatBytes(l.maxBufferSize)} per buffer`;
}

/** Keeps at most `n` entries, dropping the oldest. */
function remember<K, V>(m: Map<K, V>, k: K, v: V, n: number): V {
  m.set(k, v);
  while (m.size > n) m.delete(m.keys().next().value as K);
  return v;
}

export class RunPlanner {
  private readonly shapes = new Map<string, Promise<PlanModels>>();
  private readonly plans = new WeakMap<PlanModels, Map<string, Promise<RunPlan>>>();

  /**
   * The models' shapes of a selection (by its key), read once by `read` (headers only). A failed or cancelled
   * read is forgotten, so the next request reads again.
   */
  shapesOf(key: string, read: () => Promise<PlanModels>): Promise<PlanModels> {
    let p = this.shapes.get(key);
    if (!p) {
      p = remember(this.shapes, key, read(), 4);
      p.catch(() => { if (this.shapes.get(key) === p) this.shapes.delete(key); });
    }
    return p;
  }

  /**
   * The planner's answer for one precision, once per shapes × the settings it depends on × limits. A refusal
   * (PlanRefusedError) is remembered like a plan; any other failure is forgotten.
   */
  planFor(t: PlanTarget, shapes: PlanModels, s: GenerationSpec, p: Precision): Promise<RunPlan> {
    const l = t.limits;
    // What changes the trace: size, frames, CFG, windows, per-frame text (prompt travel), motion modules on or off.
    const key = JSON.stringify([s.width, s.height, s.frames, usesCfg(s.guidance), s.context, s.prompts.length > 1, s.motionStrength === 0, p.activations, p.weights,
      l.maxStorageBufferBindingSize, l.maxBufferSize, l.minStorageBufferOffsetAlignment, l.maxComputeWorkgroupsPerDimension, l.memoryBytes]);
    let byShapes = this.plans.get(shapes);
    if (!byShapes) this.plans.set(shapes, (byShapes = new Map()));
    const cache = byShapes;
    let plan = cache.get(key);
    if (!plan) {
      plan = planRun(shapes, runShapeOf(s, p), l);
      plan.catch((e) => { if (!(e instanceof PlanRefusedError)) cache.delete(key); });
      remember(cache, key, plan, 64);
    }
    return plan;
  }

  /**
   * The precision to run in and its plan: 'auto' weights are the widest the planner accepts (./precision.ts).
   * Throws PlanRefusedError (kind 'capability', the planner's figure against the adapter's) when the run cannot fit.
   */
  async resolve(t: PlanTarget, setting: PrecisionSetting, shapes: PlanModels, s: GenerationSpec): Promise<{ precision: Precision; plan: RunPlan }> {
    const fixed = t.dtype ? { ...setting, activations: t.dtype } : setting;
    try {
      const precision = await resolvePrecision(fixed, { f16: t.f16 }, async (p) => (await this.planFor(t, shapes, s, p)).fits);
      const plan = await this.planFor(t, shapes, s, precision);
      if (!plan.fits) throw new PlanRefusedError(plan.reason ?? 'the run does not fit this GPU', plan);
      return { precision, plan };
    } catch (e) {
      if (e instanceof PlanRefusedError) throw new PlanRefusedError(`${e.message}; ${describeLimits(t.limits)}.`, e.plan);
      throw e;
    }
  }

  /**
   * The verdict the UI shows before Generate: fits or not, the planned peak, the adapter's limits, the precision,
   * and when it does not fit the nearest setting the planner accepts (see `suggest`; `onRefused` hears the refusal
   * at once, before that search).
   */
  async verdict(
    t: PlanTarget, setting: PrecisionSetting, shapes: PlanModels, s: GenerationSpec, signal?: AbortSignal, onRefused?: (v: PlanVerdict) => void,
  ): Promise<PlanVerdict> {
    const limits = { maxStorageBufferBindingSize: t.limits.maxStorageBufferBindingSize, maxBufferSize: t.limits.maxBufferSize };
    try {
      const { precision, plan } = await this.resolve(t, setting, shapes, s);
      return { fits: true, precision, peakBytes: plan.peakBytes, limits };
    } catch (e) {
      if (!(e instanceof PlanRefusedError)) throw e;
      const refused: PlanVerdict = { fits: false, limits, reason: e.message };
      onRefused?.({ ...refused, searching: true });
      const suggestion = await this.suggest(t, setting, shapes, s, signal);
      return { ...refused, ...(suggestion ? { suggestion } : {}) };
    }
  }

  /**
   * The nearest setting the planner accepts, tried in this order (each answer is the planner's, never a guess):
   * f16 activations where f32 was set and the adapter has shader-f16; then the largest smaller size with the same
   * aspect (multiples of 8, a binary search: whether a run fits only gets easier as it shrinks); then the most
   * frames per UNet call that fit (the frame count, or the context-window length with UNet-level windows), when
   * no keyframe lies beyond them. Null when none of these fits.
   */
  async suggest(t: PlanTarget, setting: PrecisionSetting, shapes: PlanModels, s: GenerationSpec, signal?: AbortSignal): Promise<PlanChange | undefined> {
    const tryRun = async (spec: GenerationSpec, ps: PrecisionSetting): Promise<number | null> => {
      if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
      try {
        return (await this.resolve(t, ps, shapes, spec)).plan.peakBytes;
      } catch (e) {
        if (e instanceof PlanRefusedError) return null;
        throw e;
      }
    };
    if (t.f16 && !t.dtype && setting.activations === 'f32' && setting.weights !== 'f32') {
      const ps: PrecisionSetting = { ...setting, activations: 'f16' };
      const peak = await tryRun(s, ps);
      if (peak !== null) return { label: 'f16 activations', precision: ps, peakBytes: peak };
    }
    // Sizes: the scale k/n of the longer side, in steps of 8 pixels on the shorter one.
    const m = LIMITS.size.multiple;
    const short = Math.min(s.width, s.height);
    const sized = (k: number) => {
      const r = k * m / short;
      return { ...s, width: Math.max(m, Math.floor(s.width * r / m) * m), height: Math.max(m, Math.floor(s.height * r / m) * m) };
    };
    let bestSize: { spec: GenerationSpec; peak: number } | null = null;
    // From 64 pixels on the shorter side (the smallest size the app offers) up to one step below the current.
    for (let lo = Math.ceil(64 / m), hi = short / m - 1; lo <= hi;) {
      const mid = (lo + hi) >> 1;
      const spec = sized(mid);
      const peak = await tryRun(spec, setting);
      if (peak !== null) { bestSize = { spec, peak }; lo = mid + 1; } else hi = mid - 1;
    }
    if (bestSize) return { label: `${bestSize.spec.width}×${bestSize.spec.height}`, width: bestSize.spec.width, height: bestSize.spec.height, peakBytes: bestSize.peak };
    const windows = s.context?.method === 'uniform';
    const lastKey = Math.max(...s.prompts.map((p) => p.frame));
    const n = unetFrames(s);
    const framed = (f: number): GenerationSpec => (windows && s.context ? { ...s, context: { ...s.context, length: f } } : { ...s, frames: f });
    let bestFrames: { f: number; peak: number } | null = null;
    for (let lo = windows ? 1 : lastKey + 1, hi = n - 1; lo <= hi;) {
      const mid = (lo + hi) >> 1;
      const peak = await tryRun(framed(mid), setting);
      if (peak !== null) { bestFrames = { f: mid, peak }; lo = mid + 1; } else hi = mid - 1;
    }
    if (bestFrames) {
      return windows
        ? { label: `context windows of ${bestFrames.f} frames`, contextLength: bestFrames.f, peakBytes: bestFrames.peak }
        : { label: `${bestFrames.f} frames`, frames: bestFrames.f, peakBytes: bestFrames.peak };
    }
    return undefined;
  }
}

/**
 * The models' shapes of a selection for the planner, from the files' headers: Hub repos resolved, stored files read
 * from the cache, the others by HTTP Range (a few KB each); nothing is downloaded but the small config files.
 */
export function selectionPlanModels(
  planner: RunPlanner, selection: ModelSelection | ResolvedSelection, key: string, cache: ModelCache | null, signal: AbortSignal, onProgress?: LoadProgress,
): Promise<PlanModels> {
  return planner.shapesOf(key, async () => {
    const resolved = 'notes' in selection ? selection : await resolveSelection(selection, cache, signal);
    return selectionShapes(await peekSelection(resolved, cache, signal), signal, onProgress);
  });
}

export interface PreparedRun {
  local: LocalSelection;
  shapes: PlanModels;
  precision: Precision;
  plan: RunPlan;
}

/**
 * Everything before the upload of a run's models, in the order that wastes nothing: resolve the selection, plan
 * from the headers, refuse a run that cannot fit (PlanRefusedError, the planner's figure against the adapter's)
 * before any weight is downloaded, then download into the cache.
 */
export async function prepareRun(o: {
  planner: RunPlanner; target: PlanTarget; selection: ModelSelection; key: string; setting: PrecisionSetting; spec: GenerationSpec;
  cache: ModelCache | null; signal: AbortSignal; onLoad?: LoadProgress; onDownload?: (p: DownloadProgress) => void;
}): Promise<PreparedRun> {
  const resolved = await resolveSelection(o.selection, o.cache, o.signal);
  const shapes = await selectionPlanModels(o.planner, resolved, o.key, o.cache, o.signal, o.onLoad);
  const { precision, plan } = await o.planner.resolve(o.target, o.setting, shapes, o.spec);
  const local = await fetchSelection(resolved, o.cache, o.signal, o.onDownload ?? (() => {}));
  return { local, shapes, precision, plan };
}
