import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import { assessSettings } from '../../src/worker/capability';
import type { Capabilities, FromWorker, GenerateSettings, LoadPhase, ModelSummary, Precision, UserError } from '../../src/worker/protocol';
import { ExportBar } from './components/ExportBar';
import { HistoryPanel } from './components/HistoryPanel';
import { SettingsPanel, type FormState } from './components/SettingsPanel';
import { dragHasFiles, type SlotChoice } from './components/SourcePicker';
import { ModelPanel } from './components/ModelPanel';
import { Notices } from './components/Notices';
import { type FrameSet, Viewer } from './components/Viewer';
import { deleteHistory, type HistoryEntry, listHistory, saveHistory } from './history';
import { ChoiceError, choiceLabel, footprintOf, type ModelChoice, motionPreset, selectionKey, toSelection } from './model-choice';
import { BASE_PRESETS } from './presets';
import { WorkerClient } from './worker-client';
import { decodeImage, encodePng } from '../../src/export/png';

export type RunPhase = 'idle' | 'loading' | 'sampling' | 'decoding' | 'cancelling';

interface RunState {
  id: number;
  phase: RunPhase;
  load?: { phase: LoadPhase; file?: string; loaded: number; total: number };
  step?: { step: number; steps: number; elapsedMs: number; etaMs: number };
  decoded: number;
  frames: number;
}

export interface Result extends FrameSet {
  settings: GenerateSettings;
  models: string;
  elapsedMs: number | null;
  done: boolean;
}

export function randomSeed(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0];
}

function fmtTime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const INITIAL_FORM: FormState = {
  prompt: 'a red panda walking through a snowy forest, soft light, highly detailed',
  negativePrompt: 'blurry, low quality, watermark, text',
  seed: randomSeed(),
  randomizeSeed: true,
  frames: 16,
  width: 512,
  height: 512,
  steps: 25,
  guidance: 7.5,
  scheduler: 'ddim',
  clipSkip: 1,
  precision: 'auto' as Precision,
};

const INITIAL_MODELS: ModelChoice = {
  base: { mode: 'preset', presetId: 'sd15' },
  motion: { mode: 'preset', presetId: 'v2' },
  motionLora: { mode: 'none' },
  motionLoraStrength: 0.8,
  sdLora: { mode: 'none' },
  sdLoraStrength: 0.8,
};

export function App() {
  const client = useMemo(() => new WorkerClient(), []);
  const [caps, setCaps] = useState<Capabilities | null>(null);
  const [form, setForm] = useState<FormState>(INITIAL_FORM);
  const [models, setModels] = useState<ModelChoice>(INITIAL_MODELS);
  const [run, setRun] = useState<RunState | null>(null);
  const [error, setError] = useState<UserError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [summary, setSummary] = useState<ModelSummary | null>(null);
  const [fps, setFps] = useState(8);
  const [loop, setLoop] = useState(true);
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [pageDrag, setPageDrag] = useState(false);
  // Frames are large: kept in refs and mutated in place; `version` re-renders the viewer.
  const resultRef = useRef<Result | null>(null);
  const previewRef = useRef<(FrameSet & { step: number }) | null>(null);
  const [version, setVersion] = useState(0);
  const runRef = useRef<RunState | null>(null);
  const shownFrame = useRef(0);
  /** Settings and model label of the request in flight, for the result it produces. */
  const pendingSettings = useRef<GenerateSettings | null>(null);
  const pendingModels = useRef('');
  /** The last finished result, shown again when a run fails or is cancelled. */
  const lastDone = useRef<Result | null>(null);
  const fpsRef = useRef(fps);
  runRef.current = run;
  fpsRef.current = fps;

  const bump = () => setVersion((v) => v + 1);

  // ------------------------------------------------------------------ worker messages

  /** Run state changes take effect at once for the next message (several can arrive before React re-renders). */
  const update = (next: RunState | null) => {
    runRef.current = next;
    setRun(next);
  };

  const onMessage = useCallback((msg: FromWorker) => {
    if (msg.type === 'capabilities') {
      setCaps(msg.caps);
      return;
    }
    const current = runRef.current;
    if (msg.type === 'error' && msg.id === null) {
      // The worker itself failed (not a request): the run, if any, is over.
      previewRef.current = null;
      if (!resultRef.current?.done) resultRef.current = lastDone.current;
      setError(msg.error);
      update(null);
      return;
    }
    if (!current || msg.id !== current.id) return; // a late message of an older request
    switch (msg.type) {
      case 'load-progress':
        update({ ...current, phase: current.phase === 'cancelling' ? 'cancelling' : 'loading', load: msg });
        return;
      case 'loaded':
        setSummary(msg.summary);
        return;
      case 'sampling':
        update({ ...current, phase: current.phase === 'cancelling' ? 'cancelling' : 'sampling' });
        return;
      case 'progress':
        // After the last step the VAE starts on frame 1.
        update({ ...current, phase: current.phase === 'cancelling' ? 'cancelling' : msg.step === msg.steps ? 'decoding' : 'sampling', step: msg });
        return;
      case 'preview':
        previewRef.current = { frames: msg.frames, width: msg.width, height: msg.height, step: msg.step };
        bump();
        return;
      case 'frame': {
        let r = resultRef.current;
        if (!r || r.width !== msg.width || r.height !== msg.height || r.frames.length !== msg.frames || r.done) {
          r = { frames: new Array(msg.frames).fill(undefined), width: msg.width, height: msg.height, settings: pendingSettings.current!, models: pendingModels.current, elapsedMs: null, done: false };
          resultRef.current = r;
        }
        r.frames[msg.index] = msg.rgba;
        update({ ...current, phase: current.phase === 'cancelling' ? 'cancelling' : 'decoding', decoded: current.decoded + 1, frames: msg.frames });
        bump();
        return;
      }
      case 'done': {
        const r = resultRef.current;
        if (r) {
          r.done = true;
          r.elapsedMs = msg.elapsedMs;
          void remember(r);
        }
        previewRef.current = null;
        update(null);
        setNotice(`Done: ${r?.frames.length ?? 0} frames in ${fmtTime(msg.elapsedMs)}.`);
        bump();
        return;
      }
      case 'cancelled':
        previewRef.current = null;
        if (!resultRef.current?.done) resultRef.current = lastDone.current;
        update(null);
        setNotice(msg.afterStep > 0 ? `Cancelled after step ${msg.afterStep} of ${msg.steps}.` : 'Cancelled before the first step finished.');
        bump();
        return;
      case 'error':
        previewRef.current = null;
        if (!resultRef.current?.done) resultRef.current = lastDone.current;
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
    client.send({ type: 'init' });
    return () => client.terminate();
  }, [client]);
  useEffect(() => {
    listHistory().then(setHistory, () => setHistory([]));
  }, []);

  // ------------------------------------------------------------------ history

  const remember = async (r: Result) => {
    lastDone.current = r;
    try {
      const frames = await Promise.all(r.frames.map((f) => encodePng(f!, r.width, r.height)));
      const entry: HistoryEntry = {
        id: `${Date.now()}-${r.settings.seed}`, createdAt: Date.now(), settings: r.settings, models: r.models,
        width: r.width, height: r.height, fps: fpsRef.current, elapsedMs: r.elapsedMs ?? 0, frames,
      };
      await saveHistory(entry);
      setHistory(await listHistory());
    } catch (e) {
      setNotice(`The animation could not be saved to history (${(e as Error).message}).`);
    }
  };

  const openHistory = async (entry: HistoryEntry) => {
    if (runRef.current) return;
    const frames = await Promise.all(entry.frames.map(async (b) => (await decodeImage(b)).rgba));
    const r: Result = { frames, width: entry.width, height: entry.height, settings: entry.settings, models: entry.models, elapsedMs: entry.elapsedMs, done: true };
    resultRef.current = r;
    lastDone.current = r;
    previewRef.current = null;
    setFps(entry.fps);
    setForm((f) => ({ ...f, ...entry.settings, clipSkip: entry.settings.clipSkip ?? 1, randomizeSeed: false }));
    setNotice(`Opened "${entry.settings.prompt.slice(0, 60)}" (seed ${entry.settings.seed}); its settings are in the form.`);
    bump();
  };

  const removeHistory = async (entry: HistoryEntry) => {
    await deleteHistory(entry.id);
    setHistory(await listHistory());
  };

  // ------------------------------------------------------------------ generate / cancel

  const settingsOf = (f: FormState, seed: number): GenerateSettings => ({
    prompt: f.prompt.trim(), negativePrompt: f.negativePrompt.trim(), seed, frames: f.frames, width: f.width, height: f.height,
    steps: f.steps, guidance: f.guidance, scheduler: f.scheduler, clipSkip: f.clipSkip > 1 ? f.clipSkip : undefined,
  });

  const advice = useMemo(
    () => (caps ? assessSettings(caps, settingsOf(form, form.seed), footprintOf(models)) : []),
    [caps, form, models],
  );
  const blocked = !caps || !caps.webgpu || advice.some((a) => a.level === 'error');

  const generate = () => {
    if (runRef.current || blocked) return;
    setError(null);
    setNotice(null);
    let selection;
    try {
      selection = toSelection(models);
    } catch (e) {
      if (e instanceof ChoiceError) {
        setError({ kind: 'invalid-settings', message: e.message });
        return;
      }
      throw e;
    }
    const seed = form.randomizeSeed ? randomSeed() : form.seed;
    if (seed !== form.seed) setForm((f) => ({ ...f, seed }));
    const settings = settingsOf(form, seed);
    if (!settings.prompt) {
      setError({ kind: 'invalid-settings', message: 'Write a prompt first.' });
      return;
    }
    pendingSettings.current = settings;
    pendingModels.current = choiceLabel(models);
    // The canvas shows the live preview, then the new frames; the last result comes back if this run fails or is cancelled.
    lastDone.current = resultRef.current?.done ? resultRef.current : lastDone.current;
    resultRef.current = null;
    const id = client.nextId();
    const state: RunState = { id, phase: 'loading', decoded: 0, frames: settings.frames };
    update(state);
    previewRef.current = null;
    client.send({ type: 'generate', id, models: selection, modelsKey: selectionKey(selection), precision: form.precision, settings });
  };

  const cancel = () => {
    const current = runRef.current;
    if (!current || current.phase === 'cancelling') return;
    if (current.phase === 'loading') {
      // Model loading cannot stop half-way: end the worker (the browser frees its GPU memory); the next
      // Generate starts a fresh one.
      client.terminate();
      update(null);
      setNotice('Cancelled while loading the models.');
      resultRef.current = lastDone.current;
      previewRef.current = null;
      bump();
      return;
    }
    client.send({ type: 'cancel', id: current.id });
    update({ ...current, phase: 'cancelling' });
  };

  // Escape cancels from anywhere.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && runRef.current) cancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  // ------------------------------------------------------------------ model choice side effects

  const changeModels = (next: ModelChoice) => {
    const prevMotion = motionPreset(models);
    // Keep base and motion in the same family (the tiny test model only pairs with its tiny motion module).
    if (next.base !== models.base && next.base.mode === 'preset') {
      const family = BASE_PRESETS.find((p) => p.id === (next.base as { presetId: string }).presetId)?.family;
      const m = motionPreset(next);
      if (family === 'tiny' && m?.family !== 'tiny') next = { ...next, motion: { mode: 'preset', presetId: 'tiny' } };
      if (family === 'sd15' && m?.family === 'tiny') next = { ...next, motion: { mode: 'preset', presetId: 'v2' } };
      const size = BASE_PRESETS.find((p) => p.id === (next.base as { presetId: string }).presetId)?.defaultSize;
      if (size) setForm((f) => ({ ...f, width: size, height: size, frames: family === 'tiny' ? 8 : Math.max(f.frames, 16) }));
    }
    const m = motionPreset(next);
    if (m && m !== prevMotion) {
      // The scheduler, steps and guidance the motion module was trained/distilled for (overridable afterwards).
      setForm((f) => ({ ...f, ...m.recommended }));
      if (m.companionLora) next = { ...next, sdLora: { mode: 'preset', presetId: `${m.id}-lora` } as SlotChoice, sdLoraStrength: m.companionLora.strength };
      else if (prevMotion?.companionLora && next.sdLora.mode === 'preset' && next.sdLora.presetId === `${prevMotion.id}-lora`) next = { ...next, sdLora: { mode: 'none' } };
    }
    setModels(next);
  };

  // Drop a .safetensors anywhere on the page: it becomes the base model (slots take drops of their own too).
  const onPageDrop = (e: DragEvent) => {
    if (!dragHasFiles(e)) return;
    e.preventDefault();
    setPageDrag(false);
    const file = e.dataTransfer.files[0];
    if (file && !runRef.current) changeModels({ ...models, base: { mode: 'file', file } });
  };

  // ------------------------------------------------------------------ status line

  const busy = run !== null;
  let status = caps === null ? 'Checking WebGPU…' : notice ?? 'Ready.';
  let fraction: number | null = null;
  if (run) {
    if (run.phase === 'cancelling') status = 'Cancelling…';
    else if (run.phase === 'loading') {
      const l = run.load;
      status = l ? `Loading models: ${l.phase === 'download' ? 'downloading' : l.phase === 'parse' ? 'reading' : l.phase === 'upload' ? 'uploading to the GPU' : 'preparing GPU kernels'}${l.file ? ` ${l.file}` : ''} (${l.loaded} of ${l.total})` : 'Starting…';
      fraction = l && l.total ? l.loaded / l.total : null;
    } else if (run.phase === 'sampling') {
      // "Step i of N" names the step running now; elapsed and ETA come from the steps finished so far.
      const steps = run.step?.steps ?? pendingSettings.current?.steps ?? 0;
      const done = run.step?.step ?? 0;
      status = `Step ${done + 1} of ${steps}` + (run.step ? ` · ${fmtTime(run.step.elapsedMs)} elapsed · about ${fmtTime(run.step.etaMs)} left` : ' · encoding the prompt');
      fraction = steps ? done / steps : 0;
    } else if (run.phase === 'decoding') {
      status = `Decoding frame ${Math.min(run.decoded + 1, run.frames)} of ${run.frames}`;
      fraction = run.decoded / run.frames;
    }
  }

  const result = resultRef.current;
  const exportable = result && result.done ? result : null;

  return (
    <div
      className={`app${pageDrag ? ' page-drag' : ''}`}
      onDragOver={(e) => {
        if (!dragHasFiles(e)) return;
        e.preventDefault();
        setPageDrag(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setPageDrag(false);
      }}
      onDrop={onPageDrop}
    >
      <header className="topbar">
        <h1>AnimateDiff Web</h1>
        <p className="tagline">Text to animation, entirely in your browser on WebGPU. Nothing is uploaded.</p>
        <span className="adapter" title="WebGPU adapter">
          {caps?.adapter ? `${caps.adapter.name}${caps.adapter.f16 ? ' · f16' : ' · f32'}` : caps ? 'No WebGPU' : '…'}
        </span>
      </header>
      <main className="layout">
        <form
          className="controls"
          aria-label="Generation settings"
          onSubmit={(e) => {
            e.preventDefault();
            generate();
          }}
        >
          <ModelPanel value={models} onChange={changeModels} disabled={busy} />
          <SettingsPanel value={form} onChange={setForm} disabled={busy} recommended={motionPreset(models)?.recommended} onSubmit={generate} />
          <Notices advice={advice} />
          <div className="actions">
            {busy ? (
              <button type="button" className="danger" onClick={cancel} disabled={run?.phase === 'cancelling'}>
                {run?.phase === 'cancelling' ? 'Cancelling…' : 'Cancel'}
              </button>
            ) : (
              <button type="submit" className="primary" disabled={blocked}>Generate</button>
            )}
            <span className="hint">Ctrl+Enter generates, Esc cancels.</span>
          </div>
        </form>
        <section className="output" aria-label="Output">
          {error && (
            <div className="error" role="alert">
              <p className="error-title">{error.message}</p>
              {error.suggestion && <p>{error.suggestion}</p>}
              {error.detail && (
                <details>
                  <summary>Details</summary>
                  <pre>{error.detail}</pre>
                </details>
              )}
              <button type="button" className="link" onClick={() => setError(null)}>Dismiss</button>
            </div>
          )}
          <div className="status-row">
            <p role="status" aria-live="polite" aria-label="Generation status" className="status">{status}</p>
            <progress aria-label="Generation progress" max={1} value={fraction ?? undefined} hidden={!busy} />
          </div>
          <Viewer
            result={result}
            preview={result && !result.done ? null : previewRef.current}
            streaming={busy && run?.phase !== 'cancelling' ? result !== null && !result.done : false}
            version={version}
            fps={fps}
            onFps={setFps}
            loop={loop}
            onLoop={setLoop}
            onFrameShown={(i) => { shownFrame.current = i; }}
          />
          {result && (
            <p className="result-info">
              <span>{result.width}×{result.height}</span> · <span>{result.frames.length} frames</span> · <span>seed {result.settings.seed}</span>
              {' · '}<span>{result.settings.steps} steps</span> · <span>{result.models}</span>
              {result.elapsedMs !== null && <> · <span>{fmtTime(result.elapsedMs)}</span></>}
            </p>
          )}
          <ExportBar result={exportable} fps={fps} loop={loop} currentFrame={() => shownFrame.current} disabled={busy} />
          {summary && (
            <details className="hint model-summary">
              <summary>Models loaded in {fmtTime(summary.loadMs)} on {summary.adapter} ({summary.precision})</summary>
              <ul>{summary.components.map((c) => <li key={c}>{c}</li>)}</ul>
              {summary.warnings.length > 0 && <ul className="warn">{summary.warnings.map((w) => <li key={w}>{w}</li>)}</ul>}
            </details>
          )}
          <HistoryPanel entries={history} onOpen={openHistory} onDelete={removeHistory} disabled={busy} />
        </section>
      </main>
      {pageDrag && <div className="drop-overlay" aria-hidden="true">Drop a .safetensors file to use it as the base model</div>}
    </div>
  );
}
