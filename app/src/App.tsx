// The page layout: settings form on the left, output (status, viewer, exports, history) on the right. The state
// and behaviour live in hooks (generation, history, model choice, drops, keys) and pure helpers (status line, request).

import { useMemo, useRef, useState } from 'react';
import { describePrecision } from '../../src/pipeline/precision';
import { assessSettings } from '../../src/worker/capability';
import { ErrorBoundary } from './components/ErrorBoundary';
import { ExportBar } from './components/ExportBar';
import { HistoryPanel } from './components/HistoryPanel';
import { ModelPanel } from './components/ModelPanel';
import { Notices } from './components/Notices';
import { SettingsPanel } from './components/SettingsPanel';
import { Viewer } from './components/Viewer';
import { type FormState, formWithSpec, INITIAL_FORM, randomSeed } from './form';
import { promptSummary, SpecError } from '../../src/pipeline/spec';
import type { HistoryEntry } from './history';
import { useDropFiles } from './hooks/useDropFiles';
import { useGeneration } from './hooks/useGeneration';
import { useHistory } from './hooks/useHistory';
import { useKeys } from './hooks/useKeys';
import { useModelChoice } from './hooks/useModelChoice';
import { presetAvailable, useStorage } from './hooks/useStorage';
import { DownloadPanel } from './components/DownloadPanel';
import { OfflineIndicator } from './components/OfflineIndicator';
import { StoragePanel } from './components/StoragePanel';
import { BASE_PRESETS, MOTION_PRESETS } from './presets';
import { useNow } from './hooks/useNow';
import { motionPreset } from './model-choice';
import { headOf, refuseDropped } from './drop-check';
import { prepareRequest } from './request';
import { describeError } from '../../src/worker/errors';
import { clipWords, fmtTime, plural, statusLine } from './status-line';
import { usePlan } from './hooks/usePlan';
import { planRefused, withPlanChange } from './plan-verdict';
import { PLAN_NOTICE_ID, PlanNotice } from './components/PlanNotice';

export function App() {
  const [form, setForm] = useState<FormState>(INITIAL_FORM);
  const [fps, setFps] = useState(8);
  const [loop, setLoop] = useState(true);
  const shownFrame = useRef(0);
  const { models, changeModels } = useModelChoice(setForm);
  const history = useHistory({ onSaveError: (m) => gen.setNotice(m) });
  const gen = useGeneration({ onDone: (r) => void history.remember(r, fps) });
  const { caps, run, busy, result } = gen;
  const storage = useStorage(gen.client, busy);
  const urlsOf = (files: { kind: string; url?: string }[]) => files.flatMap((f) => (f.kind === 'url' && f.url ? [f.url] : []));
  const storedPresets = [
    ...BASE_PRESETS.filter((p) => presetAvailable(storage.report, urlsOf([...p.files, ...p.configs, p.tokenizer]))),
    ...MOTION_PRESETS.filter((p) => presetAvailable(storage.report, urlsOf([...p.files, ...p.configs]))),
  ].map((p) => p.label);

  const advice = useMemo(
    () => (caps ? assessSettings(caps) : []),
    [caps],
  );
  const blocked = !caps || !caps.webgpu || advice.some((a) => a.level === 'error');
  // The memory planner's verdict on these settings (nothing downloaded): a run it refuses cannot be started.
  const plan = usePlan(gen.client, { enabled: !blocked && !busy, form, models });
  const refused = planRefused(plan);

  const generate = () => {
    if (gen.isBusy() || blocked || refused) return;
    gen.setError(null);
    gen.setNotice(null);
    // Nothing may escape a submit handler (Generate would silently do nothing): any failure is shown.
    try {
      const seed = form.randomizeSeed ? randomSeed() : form.spec.seed;
      const prepared = prepareRequest(form, models, seed);
      if ('error' in prepared) {
        gen.setError(prepared.error);
        return;
      }
      if (seed !== form.spec.seed) setForm((f) => ({ ...f, spec: { ...f.spec, seed } }));
      gen.start(prepared.request);
    } catch (e) {
      gen.setError(describeError(e));
    }
  };

  const openHistory = async (entry: HistoryEntry) => {
    if (gen.isBusy()) return;
    let r: Awaited<ReturnType<typeof history.load>>;
    try {
      r = await history.load(entry);
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      gen.setError({ kind: 'invalid-settings', message: `This history entry cannot be opened: ${e.message}` });
      return;
    }
    gen.show(r);
    setFps(entry.fps);
    setForm((f) => formWithSpec(f, r.spec));
    gen.setNotice(`Opened "${clipWords(promptSummary(r.spec), 60)}" (seed ${r.spec.seed}); its settings are in the form.`);
  };

  useKeys({ onEscape: () => gen.isBusy() && gen.cancel() });
  // Drop a .safetensors anywhere on the page: it becomes the base model (slots take drops of their own too).
  // Anything but a safetensors file is refused at once, with the reason (a .ckpt is a pickle).
  const drop = useDropFiles(async (file) => {
    if (gen.isBusy()) return;
    const refused = refuseDropped(file.name, await headOf(file));
    if (refused) {
      gen.setError(refused);
      return;
    }
    gen.setError(null);
    changeModels({ ...models, base: { mode: 'file', file } });
    gen.setNotice(`${file.name} is the base model now.`);
  });

  const now = useNow(busy);
  const status = statusLine({ checked: caps !== null, notice: gen.notice, run, plannedSteps: gen.pendingSteps, now });
  const exportable = result && result.done ? result : null;
  const error = gen.error;
  const summary = gen.summary;

  return (
    <div className={`app${drop.dragging ? ' page-drag' : ''}`} {...drop.handlers}>
      <header className="topbar">
        <h1>AnimateDiff Web</h1>
        <p className="tagline">Text to animation, entirely in your browser on WebGPU. Nothing is uploaded.</p>
        <span className="adapter" title="WebGPU adapter">
          {caps?.adapter ? `${caps.adapter.name}${caps.adapter.f16 ? ' · f16' : ' · f32'}` : caps ? 'No WebGPU' : '…'}
        </span>
        <OfflineIndicator available={storedPresets} />
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
          <Notices advice={advice} />
          <ErrorBoundary name="The model choice">
            <ModelPanel value={models} onChange={changeModels} disabled={busy} />
          </ErrorBoundary>
          <ErrorBoundary name="The settings">
            <SettingsPanel value={form} onChange={setForm} disabled={busy} recommended={motionPreset(models)?.recommended} onSubmit={generate} />
          </ErrorBoundary>
          <div className="actions">
            {busy ? (
              <button type="button" className="danger" onClick={gen.cancel} disabled={run?.phase === 'cancelling'}>
                {run?.phase === 'cancelling' ? 'Cancelling…' : 'Cancel'}
              </button>
            ) : (
              <button type="submit" className="primary" disabled={blocked || refused} aria-describedby={PLAN_NOTICE_ID}>Generate</button>
            )}
            <span className="hint">Ctrl+Enter generates, Esc cancels.</span>
            <PlanNotice state={plan} caps={caps} disabled={busy} onApply={(c) => setForm((f) => withPlanChange(f, c))} />
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
              <button type="button" className="link" onClick={() => gen.setError(null)}>Dismiss</button>
            </div>
          )}
          <div className="status-row">
            <p role="status" aria-live="polite" aria-label="Generation status" className="status">{status.text}</p>
            <progress aria-label="Generation progress" max={1} value={status.fraction ?? undefined} hidden={!busy} />
          </div>
          {busy && run?.phase !== 'cancelling' && <DownloadPanel progress={run?.download} />}
          <ErrorBoundary name="The animation viewer">
          <Viewer
            result={result}
            preview={result && !result.done ? null : gen.preview}
            streaming={busy && run?.phase !== 'cancelling' ? result !== null && !result.done : false}
            version={gen.version}
            fps={fps}
            onFps={setFps}
            loop={loop}
            onLoop={setLoop}
            onFrameShown={(i) => { shownFrame.current = i; }}
          />
          </ErrorBoundary>
          {result && (
            <p className="result-info">
              <span>{result.width}×{result.height}</span> · <span>{plural(result.frames.length, 'frame')}</span> · <span>seed {result.spec.seed}</span>
              {' · '}<span>{plural(result.spec.steps, 'step')}</span> · <span>{result.models}</span>
              {result.elapsedMs !== null && <> · <span>{fmtTime(result.elapsedMs)}</span></>}
            </p>
          )}
          <ErrorBoundary name="Export">
            <ExportBar result={exportable} fps={fps} loop={loop} currentFrame={() => shownFrame.current} disabled={busy} />
          </ErrorBoundary>
          {summary && (
            <details className="hint model-summary">
              <summary>Models loaded in {fmtTime(summary.loadMs)} on {summary.adapter} ({describePrecision(summary.precision)})</summary>
              <ul>{summary.components.map((c) => <li key={c}>{c}</li>)}</ul>
              {summary.warnings.length > 0 && <ul className="warn">{summary.warnings.map((w) => <li key={w}>{w}</li>)}</ul>}
            </details>
          )}
          <ErrorBoundary name="History">
            <HistoryPanel entries={history.entries} onOpen={openHistory} onDelete={history.remove} disabled={busy} />
          </ErrorBoundary>
          <ErrorBoundary name="Storage">
            <StoragePanel storage={storage} disabled={busy} />
          </ErrorBoundary>
        </section>
      </main>
      {drop.dragging && <div className="drop-overlay" aria-hidden="true">Drop a .safetensors file to use it as the base model</div>}
    </div>
  );
}
