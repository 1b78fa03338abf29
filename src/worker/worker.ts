/// <reference lib="webworker" />
// The generation worker: owns the WebGPU engine, the loaded models and the pipeline. The UI talks to it only
// through the messages of ./protocol. Requests run one at a time (a queue); `cancel` bypasses the queue and aborts
// the running request: while sampling, the engine drops the GPU work it has not submitted yet (it keeps only about a
// second queued ahead of the GPU), so the run stops within seconds at any size. After a lost device or any GPU failure the engine is thrown
// away and rebuilt (and the last models reloaded) on the next request, so the page never needs a reload.

import { ModelCache } from '../delivery/cache';
import { DEFAULT_HUB, isLocalhost } from '../delivery/hub-urls';
import { openOpfsStore } from '../delivery/store';
import { Engine } from '../gpu/engine';
import { probeCapabilities } from './capability';
import { describeError, needsFreshEngine } from './errors';
import { type LoadedModels, type LoadProgress, loadSelection, runGeneration } from './runner';
import { adapterTarget, engineTarget, prepareRun, RunPlanner, selectionPlanModels } from './planning';
import { GpuUnavailableError } from '../gpu/errors';
import { type FromWorker, type ModelSelection, type ToWorker, transferablesOf } from './protocol';
import { type GenerationSpec, parseSpec } from '../pipeline/spec';
import { type ActivationPrecision, checkPrecisionSetting, engineRequestFor, type Precision, type PrecisionSetting } from '../pipeline/precision';
import type { RunPlan } from '../plan/plan';

declare const self: DedicatedWorkerGlobalScope;

function post(msg: FromWorker): void {
  self.postMessage(msg, transferablesOf(msg));
}

let engine: Engine | null = null;
let enginePrecision: ActivationPrecision | 'auto' = 'auto';
/** The precision `models` were loaded in. */
let modelsPrecision: Precision | null = null;
let models: LoadedModels | null = null;
/** Identifies the selection `models` was loaded from. */
let modelsKey: string | null = null;
/** Aborts the request that is running now; `sampling` once its models are loaded and synced. */
let running: { id: number; abort: AbortController; sampling: boolean } | null = null;
/** Ids cancelled while still waiting in the queue. */
const cancelledIds = new Set<number>();

/** The Hub origin repo sources are read from (a local imitation in tests: only localhost may replace the Hub). */
let hub = DEFAULT_HUB;
/** A storage-binding limit below the adapter's (init's `maxBindingBytes`), for the engine and the planner alike. */
let maxBindingBytes: number | undefined;
let cachePromise: Promise<ModelCache | null> | null = null;
/** Why there is no model cache, when there is none. */
let cacheProblem: string | null = null;

/** The model cache in OPFS, opened once; null where the browser has no OPFS (files are then read with HTTP Range). */
function getCache(): Promise<ModelCache | null> {
  cachePromise ??= (async () => {
    try {
      const storage = self.navigator.storage;
      return await ModelCache.open({
        store: await openOpfsStore(storage), estimate: async () => {
          const e = await storage.estimate();
          return { usage: e.usage ?? 0, quota: e.quota ?? 0 };
        },
        baseUrl: self.location.href, hub,
      });
    } catch (e) {
      cacheProblem = (e as Error).message;
      return null;
    }
  })();
  return cachePromise;
}

async function storageReport(msg: Extract<ToWorker, { type: 'storage' }>): Promise<void> {
  const cache = await getCache();
  const persisted = await self.navigator.storage?.persisted?.().catch(() => null) ?? null;
  const empty = { models: [], usage: null, quota: null };
  if (!cache) {
    post({ type: 'storage', report: { ...empty, available: false, persisted }, error: { kind: 'storage', message: cacheProblem ?? 'The model cache is not available.' } });
    return;
  }
  let error;
  try {
    if (msg.op === 'delete' && msg.group) await cache.remove(msg.group);
    if (msg.op === 'delete-all') await cache.removeAll();
  } catch (e) {
    error = describeError(e);
  }
  post({ type: 'storage', report: { ...(await cache.report()), available: true, persisted }, ...(error ? { error } : {}) });
}

function dropModels(): void {
  models?.dispose();
  models = null;
  modelsKey = null;
  modelsPrecision = null;
}

function dropEngine(): void {
  dropModels();
  try {
    engine?.destroy();
  } catch {
    // a lost device may throw on destroy; it is gone either way
  }
  engine = null;
}

async function getEngine(setting: PrecisionSetting): Promise<Engine> {
  const precision = engineRequestFor(setting);
  if (engine && (engine.isLost || enginePrecision !== precision)) dropEngine();
  if (!engine) {
    engine = await Engine.create(self.navigator.gpu, { precision, maxBindingBytes });
    enginePrecision = precision;
    const mine = engine;
    // A device lost while idle: forget it now so the next request starts on a fresh one.
    void mine.lost.then(() => {
      if (engine === mine && !running) dropEngine();
    });
  }
  return engine;
}

/** The memory planner's caches: the models' shapes per selection, the plans per shapes × settings (./planning.ts). */
const planner = new RunPlanner();

/** This browser's adapter (asked once), for planning before any device exists. */
let adapterPromise: Promise<GPUAdapter | null> | null = null;
function getAdapter(): Promise<GPUAdapter | null> {
  adapterPromise ??= (self.navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' }) ?? Promise.resolve(null)).catch(() => null);
  return adapterPromise;
}

async function ensureModels(
  id: number, selection: ModelSelection, key: string, setting: PrecisionSetting, settings: GenerationSpec, signal: AbortSignal,
): Promise<{ engine: Engine; models: LoadedModels; plan: RunPlan }> {
  const eng = await getEngine(setting);
  const target = engineTarget(eng);
  if (models && modelsKey === key && modelsPrecision) {
    const ready = await planner.resolve(target, setting, models.shapes, settings);
    if (ready.precision.weights === modelsPrecision.weights) return { engine: eng, models, plan: ready.plan };
  }
  const t0 = performance.now();
  const onLoad: LoadProgress = (phase, file, done, total) => post({ type: 'load-progress', id, phase, file, loaded: done, total });
  // The planner's verdict comes first, from the files' headers: a run that cannot fit is refused before any weight
  // is downloaded. Downloads next, while the models loaded before stay usable (a refusal or a cancelled download
  // leaves them alive).
  const { local, shapes, precision, plan } = await prepareRun({
    planner, target, selection, key, setting, spec: settings, cache: await getCache(), signal, onLoad,
    onDownload: (progress) => post({ type: 'download-progress', id, progress }),
  });
  dropModels();
  const loaded = await loadSelection(eng, local, signal, onLoad, { shapes, precision }, (await getCache()) ?? undefined);
  models = loaded;
  modelsKey = key;
  modelsPrecision = precision;
  post({ type: 'loaded', id, summary: loaded.summary(eng, performance.now() - t0) });
  return { engine: eng, models: loaded, plan };
}

/** Answers a plan request: the planner's verdict for the adapter (or the engine already made for this precision). */
async function planRequest(msg: Extract<ToWorker, { type: 'plan' }>, signal: AbortSignal): Promise<void> {
  try {
    // A plan's trace holds this thread for a while (on a null device every await resolves at once): storage
    // requests already asked for are answered first.
    await storageWork;
    await new Promise((r) => setTimeout(r, 0));
    const spec = parseSpec(msg.spec);
    const setting = checkPrecisionSetting(msg.precision);
    let target;
    if (engine && !engine.isLost && enginePrecision === engineRequestFor(setting)) target = engineTarget(engine);
    else {
      const adapter = await getAdapter();
      if (!adapter) throw new GpuUnavailableError('No WebGPU adapter was found: the GPU may be blocklisted or disabled.');
      target = adapterTarget(adapter, maxBindingBytes);
    }
    const shapes = models && modelsKey === msg.modelsKey ? models.shapes : await selectionPlanModels(planner, msg.models, msg.modelsKey, await getCache(), signal);
    const verdict = await planner.verdict(target, setting, shapes, spec, signal, (v) => {
      if (!signal.aborted) post({ type: 'plan', id: msg.id, verdict: v });
    });
    if (!signal.aborted) post({ type: 'plan', id: msg.id, verdict });
  } catch (e) {
    if (!signal.aborted) post({ type: 'plan', id: msg.id, error: describeError(e) });
  }
}

/** The step count a cancelled request reports, read from the raw message (it may not be a valid spec). */
const stepsOf = (spec: unknown): number => {
  const steps = (spec as { steps?: unknown } | null)?.steps;
  return typeof steps === 'number' && Number.isFinite(steps) ? steps : 0;
};

async function generate(msg: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
  if (cancelledIds.delete(msg.id)) {
    post({ type: 'cancelled', id: msg.id, afterStep: 0, steps: stepsOf(msg.spec) });
    return;
  }
  let afterStep = 0;
  const abort = new AbortController();
  running = { id: msg.id, abort, sampling: false };
  try {
    // The worker boundary: the spec is untrusted until parsed (defaults filled, older versions migrated).
    const spec = parseSpec(msg.spec);
    checkPrecisionSetting(msg.precision);
    const ready = await ensureModels(msg.id, msg.models, msg.modelsKey, msg.precision, spec, abort.signal);
    // Every weight upload is on the GPU before sampling starts: a cancel may then drop queued work safely.
    await ready.engine.sync();
    running.sampling = true;
    post({ type: 'sampling', id: msg.id, steps: spec.steps });
    const t0 = performance.now();
    ready.engine.pool.resetPeak();
    await runGeneration(ready.engine, ready.models, spec, abort.signal, {
      onTextEncoded: () => post({ type: 'encoded', id: msg.id }),
      onStep: (p) => {
        afterStep = p.step;
        post({ type: 'progress', id: msg.id, ...p });
      },
      onWindow: (p) => post({ type: 'window', id: msg.id, ...p }),
      onPreview: (step, frames, width, height) => post({ type: 'preview', id: msg.id, step, frames, width, height }),
      onFrame: (index, frames, rgba, width, height) => post({ type: 'frame', id: msg.id, index, frames, rgba, width, height }),
    }, ready.plan);
    post({
      type: 'done', id: msg.id, elapsedMs: performance.now() - t0,
      memory: { peakBytes: ready.engine.pool.stats().peakBytes, plannedBytes: ready.plan.enginePeakBytes },
    });
  } catch (e) {
    // A half-finished load leaves no usable models; weights of finished loads are read-only and stay valid.
    if (!modelsKey) dropModels();
    if (abort.signal.aborted) {
      if (engine?.isLost) dropEngine();
      post({ type: 'cancelled', id: msg.id, afterStep, steps: stepsOf(msg.spec) });
    } else {
      // A lost device surfaces as whatever call failed first; the loss is the cause to report.
      const cause = engine?.isLost ? await engine.lost : e;
      if (needsFreshEngine(cause) || engine?.isLost) dropEngine();
      post({ type: 'error', id: msg.id, error: describeError(cause) });
    }
  } finally {
    running = null;
  }
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'init': {
      if (msg.hub) {
        const u = new URL(msg.hub);
        if (isLocalhost(u) && !cachePromise) hub = u.origin;
      }
      if (typeof msg.maxBindingBytes === 'number' && msg.maxBindingBytes > 0 && !engine) maxBindingBytes = msg.maxBindingBytes;
      const caps = await probeCapabilities(self.navigator.gpu, (self.navigator as { deviceMemory?: number }).deviceMemory);
      post({ type: 'capabilities', caps });
      return;
    }
    case 'generate':
      return generate(msg);
    case 'plan': {
      // Only the latest plan request is answered: older ones still queued are skipped.
      if (msg !== latestPlan) return;
      const abort = new AbortController();
      planning = abort;
      try {
        await planRequest(msg, abort.signal);
      } finally {
        if (planning === abort) planning = null;
      }
      return;
    }
    case 'cancel':
    case 'storage':
      return; // handled before queueing
  }
}

let queue: Promise<void> = Promise.resolve();
/** Storage requests in flight (they bypass the queue). */
let storageWork: Promise<void> = Promise.resolve();
/** The newest plan request, and the abort of the one running: a newer plan request or a generate supersedes it. */
let latestPlan: Extract<ToWorker, { type: 'plan' }> | null = null;
let planning: AbortController | null = null;

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  if (msg.type === 'cancel') {
    if (running && running.id === msg.id) {
      running.abort.abort();
      // The step in progress stops at once: its unsubmitted GPU work is dropped (read() then throws).
      if (running.sampling) engine?.abandonQueued();
    }
    else cancelledIds.add(msg.id);
    return;
  }
  if (msg.type === 'storage') {
    // Storage requests do not wait for a generation to finish.
    const work = storageReport(msg).catch((e) => post({ type: 'error', id: null, error: describeError(e) }));
    storageWork = Promise.all([storageWork, work]).then(() => undefined);
    return;
  }
  if (msg.type === 'plan') latestPlan = msg;
  // A plan being made gives way: its search for a smaller setting stops (what it planned stays cached).
  if (msg.type === 'plan' || msg.type === 'generate') planning?.abort();
  queue = queue.then(() => handle(msg)).catch((e) => post({ type: 'error', id: null, error: describeError(e) }));
};
