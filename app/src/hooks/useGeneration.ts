// The worker-message state machine: one WorkerClient, the run in flight, its preview and frames, and the outcome
// (result, error or notice). Frames are large: kept in refs and mutated in place; `version` re-renders the viewer.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Capabilities, FromWorker, ModelSummary, UserError } from '../../../src/worker/protocol';
import type { GenerationSpec } from '../../../src/pipeline/spec';
import type { FrameSet } from '../components/Viewer';
import { selectionKey } from '../model-choice';
import type { GenerateRequest } from '../request';
import type { Result } from '../result';
import { doneLine, type RunState } from '../status-line';
import { fmtGiB } from '../../../src/plan/format';
import { WorkerClient } from '../worker-client';
import { hubOverride } from '../hub-override';
import { bindingLimitOverride } from '../binding-limit';

/** A cancelled run that has not stopped after this long: its worker is ended and a fresh one takes over. */
export const CANCEL_GRACE_MS = 5000;

export function useGeneration({ onDone }: { onDone(r: Result): void }) {
  const client = useMemo(() => new WorkerClient(), []);
  const [caps, setCaps] = useState<Capabilities | null>(null);
  const [run, setRun] = useState<RunState | null>(null);
  const [error, setError] = useState<UserError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [summary, setSummary] = useState<ModelSummary | null>(null);
  const resultRef = useRef<Result | null>(null);
  const previewRef = useRef<(FrameSet & { step: number }) | null>(null);
  const [version, setVersion] = useState(0);
  const runRef = useRef<RunState | null>(null);
  /** Settings and model label of the request in flight, for the result it produces. */
  const pendingSpec = useRef<GenerationSpec | null>(null);
  const pendingModels = useRef('');
  /** The last finished result, shown again when a run fails or is cancelled. */
  const lastDone = useRef<Result | null>(null);
  const onDoneRef = useRef(onDone);
  runRef.current = run;
  onDoneRef.current = onDone;

  const bump = () => setVersion((v) => v + 1);

  /** Run state changes take effect at once for the next message (several can arrive before React re-renders). */
  const update = (next: RunState | null) => {
    runRef.current = next;
    setRun(next);
  };

  /** The run is over without a new result: the last finished animation comes back. */
  const restoreLast = () => {
    previewRef.current = null;
    if (!resultRef.current?.done) resultRef.current = lastDone.current;
  };

  const onMessage = useCallback((msg: FromWorker) => {
    if (msg.type === 'capabilities') {
      setCaps(msg.caps);
      return;
    }
    if (msg.type === 'storage') return; // the storage manager's (useStorage)
    const current = runRef.current;
    if (msg.type === 'error' && msg.id === null) {
      // The worker itself failed (not a request): the run, if any, is over.
      restoreLast();
      setError(msg.error);
      update(null);
      return;
    }
    if (!current || msg.id !== current.id) return; // a late message of an older request
    const keep = (phase: RunState['phase']) => (current.phase === 'cancelling' ? 'cancelling' : phase);
    switch (msg.type) {
      case 'load-progress':
        update({ ...current, phase: keep('loading'), load: msg });
        return;
      case 'download-progress':
        // Downloads follow the planner's header reads: the status names the download, not the last header read.
        update({ ...current, phase: keep('loading'), download: msg.progress, load: undefined });
        return;
      case 'loaded':
        setSummary(msg.summary);
        update({ ...current, loadMs: msg.summary.loadMs });
        return;
      case 'sampling':
        update({ ...current, phase: keep('sampling'), samplingAt: Date.now() });
        return;
      case 'encoded':
        update({ ...current, encoded: true });
        return;
      case 'progress':
        // After the last step of the last FreeInit iteration the VAE starts on frame 1.
        update({ ...current, phase: keep(msg.step === msg.steps && msg.iteration === msg.iterations ? 'decoding' : 'sampling'), step: msg, stepAt: Date.now() });
        return;
      case 'window':
        update({ ...current, phase: keep('sampling'), window: { iteration: msg.iteration, step: msg.step, window: msg.window, windows: msg.windows } });
        return;
      case 'preview':
        previewRef.current = { frames: msg.frames, width: msg.width, height: msg.height, step: msg.step };
        bump();
        return;
      case 'frame': {
        let r = resultRef.current;
        if (!r || r.width !== msg.width || r.height !== msg.height || r.frames.length !== msg.frames || r.done) {
          r = { frames: new Array(msg.frames).fill(undefined), width: msg.width, height: msg.height, spec: pendingSpec.current!, models: pendingModels.current, elapsedMs: null, done: false };
          resultRef.current = r;
        }
        r.frames[msg.index] = msg.rgba;
        update({ ...current, phase: keep('decoding'), decoded: current.decoded + 1, frames: msg.frames });
        bump();
        return;
      }
      case 'done': {
        const r = resultRef.current;
        if (r) {
          r.done = true;
          r.elapsedMs = msg.elapsedMs;
          lastDone.current = r;
          onDoneRef.current(r);
        }
        previewRef.current = null;
        update(null);
        const mem = msg.memory ? ` GPU memory peak ${fmtGiB(msg.memory.peakBytes)} (planned ${fmtGiB(msg.memory.plannedBytes)}).` : '';
        setNotice(doneLine(r?.frames.length ?? 0, Date.now() - current.startedAt, msg.elapsedMs, current.loadMs) + mem);
        bump();
        return;
      }
      case 'cancelled':
        restoreLast();
        update(null);
        setNotice(msg.afterStep > 0 ? `Cancelled after step ${msg.afterStep} of ${msg.steps}.` : 'Cancelled before the first step finished.');
        bump();
        return;
      case 'error':
        restoreLast();
        setError(msg.error);
        update(null);
        bump();
        return;
    }
  }, []);

  useEffect(() => client.subscribe(onMessage), [client, onMessage]);
  useEffect(() => {
    if (!('gpu' in navigator) || !navigator.gpu) {
      setCaps({ webgpu: false, problem: 'This browser has no WebGPU (navigator.gpu is missing).' });
      return;
    }
    client.send({ type: 'init', hub: hubOverride(), maxBindingBytes: bindingLimitOverride() });
    return () => client.terminate();
  }, [client]);

  /** Starts a request (ignored while one runs). */
  const start = ({ selection, precision, spec, modelsLabel }: GenerateRequest) => {
    if (runRef.current) return;
    pendingSpec.current = spec;
    pendingModels.current = modelsLabel;
    // The canvas shows the live preview, then the new frames; the last result comes back if this run fails or is cancelled.
    lastDone.current = resultRef.current?.done ? resultRef.current : lastDone.current;
    resultRef.current = null;
    const id = client.nextId();
    update({ id, phase: 'loading', decoded: 0, frames: spec.frames, startedAt: Date.now() });
    previewRef.current = null;
    client.send({ type: 'generate', id, models: selection, modelsKey: selectionKey(selection), precision, spec });
  };

  /** Ends the worker (the browser frees its GPU memory); the next Generate starts a fresh one with the same models. */
  const endWorker = (notice: string) => {
    client.terminate();
    update(null);
    setNotice(notice);
    resultRef.current = lastDone.current;
    previewRef.current = null;
    bump();
  };

  const cancel = () => {
    const current = runRef.current;
    if (!current || current.phase === 'cancelling') return;
    // Downloads and loading stop too (what is downloaded stays cached); the worker and its models stay alive.
    client.send({ type: 'cancel', id: current.id });
    update({ ...current, phase: 'cancelling' });
    // The worker confirms within a second or two; one that does not (stuck in a long GPU call) is ended.
    setTimeout(() => {
      if (runRef.current?.id === current.id) endWorker('Cancelled: the generation worker did not stop in time and was restarted (the models load again on the next run).');
    }, CANCEL_GRACE_MS);
  };

  /** Shows a finished animation (reopened from history) as the current and last result. */
  const show = (r: Result) => {
    resultRef.current = r;
    lastDone.current = r;
    previewRef.current = null;
    bump();
  };

  return {
    client, caps, run, error, setError, notice, setNotice, summary, version,
    result: resultRef.current,
    preview: previewRef.current,
    pendingSteps: pendingSpec.current?.steps ?? 0,
    busy: run !== null,
    isBusy: () => runRef.current !== null,
    start, cancel, show,
  };
}
