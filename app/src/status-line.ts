// The one-line run status under the output (pure: the run state in, the text and progress fraction out).

import type { DownloadProgress, LoadPhase } from '../../src/worker/protocol';

export type RunPhase = 'idle' | 'loading' | 'sampling' | 'decoding' | 'cancelling';

/** The request in flight, as the worker's messages have described it so far. */
export interface RunState {
  id: number;
  phase: RunPhase;
  load?: { phase: LoadPhase; file?: string; loaded: number; total: number };
  /** Downloads into the model cache (bytes, speed, time left), while models are fetched. */
  download?: DownloadProgress;
  /** The last step finished: `step` of `steps` in FreeInit iteration `iteration` of `iterations` (see StepInfo). */
  step?: { step: number; steps: number; iteration: number; iterations: number; iterationSteps: number[]; elapsedMs: number; etaMs: number };
  /** Context windows: the last window finished, `window` of `windows` inside step `step` of iteration `iteration`. */
  window?: { iteration: number; step: number; window: number; windows: number };
  decoded: number;
  frames: number;
  /** Page clock (ms, Date.now()) when the request was sent, when sampling began, and when the last step finished. */
  startedAt: number;
  samplingAt?: number;
  stepAt?: number;
  /** The prompt is encoded (step 1 runs). */
  encoded?: boolean;
  /** How long loading the models took in this run; absent when they were already loaded. */
  loadMs?: number;
}

/** 1.23 GB, 456.7 MB, 12.3 kB. */
export function fmtBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e3).toFixed(1)} kB`;
}

/** "120.5 MB of 2.13 GB · 11.2 MB/s · about 3:05 left". */
export function downloadText(d: DownloadProgress): string {
  const parts = [d.total !== null ? `${fmtBytes(d.received)} of ${fmtBytes(d.total)}` : fmtBytes(d.received)];
  if (d.bytesPerSec > 0) parts.push(`${fmtBytes(d.bytesPerSec)}/s`);
  if (d.etaMs !== null && d.bytesPerSec > 0) parts.push(`about ${fmtTime(d.etaMs)} left`);
  return parts.join(' · ');
}

/** m:ss. */
export function fmtTime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** `text` cut to at most `max` characters at a word boundary, with "…" when cut. */
export function clipWords(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  // Keep whole words: up to the last space, unless the cut already ends a word (or no word boundary is near).
  const words = /\s/.test(text[max - 1]) || space <= max / 2 ? cut : cut.slice(0, space);
  return `${words.replace(/[\s,.;:!?-]+$/, '')}…`;
}

/** "1 step", "2 steps". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The outcome line of a finished run: the whole time, split into loading the models and generating. */
export function doneLine(frames: number, totalMs: number, generateMs: number, loadMs: number | undefined): string {
  const split = loadMs === undefined
    ? `models already loaded, generating ${fmtTime(generateMs)}`
    : `loading the models ${fmtTime(loadMs)}, generating ${fmtTime(generateMs)}`;
  return `Done: ${plural(frames, 'frame')} in ${fmtTime(totalMs)} (${split}).`;
}

const LOAD_PHASE: Record<LoadPhase, string> = {
  download: 'downloading',
  parse: 'reading',
  upload: 'uploading to the GPU',
  compile: 'preparing GPU kernels',
};

export interface StatusInput {
  /** False until the worker has reported what WebGPU offers. */
  checked: boolean;
  /** The last outcome ("Done …", "Cancelled …"), shown while idle. */
  notice: string | null;
  run: RunState | null;
  /** Steps of the request in flight, until the worker reports its own count. */
  plannedSteps: number;
  /** The page clock now (Date.now()); the status is re-rendered every second while a run is busy. */
  now: number;
}

export interface StatusLine {
  text: string;
  /** 0–1 for the progress bar; null = indeterminate. */
  fraction: number | null;
}

export function statusLine({ checked, notice, run, plannedSteps, now }: StatusInput): StatusLine {
  if (!run) return { text: checked ? notice ?? 'Ready.' : 'Checking WebGPU…', fraction: null };
  switch (run.phase) {
    case 'cancelling':
      return { text: 'Cancelling…', fraction: null };
    case 'loading': {
      const d = run.download;
      if (d && !run.load && d.files.some((f) => f.state === 'queued' || f.state === 'downloading' || f.state === 'verifying')) {
        return { text: `Downloading models: ${downloadText(d)}`, fraction: d.total ? d.received / d.total : null };
      }
      const l = run.load;
      const since = ` · ${fmtTime(now - run.startedAt)}`;
      if (!l) return { text: `Starting…${since}`, fraction: null };
      return { text: `Loading models: ${LOAD_PHASE[l.phase]}${l.file ? ` ${l.file}` : ''} (${l.loaded} of ${l.total})${since}`, fraction: l.total ? l.loaded / l.total : null };
    }
    case 'sampling': {
      // "Step i of N" names the step running now (with FreeInit, "Iteration k of K · step i of N": after an
      // iteration's last step the next one begins). Elapsed counts from the start of sampling, every second; the ETA
      // comes from the steps finished so far, counted down since the last one.
      const s = run.step;
      const perIteration = s?.iterationSteps ?? [plannedSteps];
      let iteration = s?.iteration ?? 1, next = (s?.step ?? 0) + 1;
      if (s && s.step === s.steps && iteration < perIteration.length) { iteration++; next = 1; }
      const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
      const total = sum(perIteration), done = s ? sum(perIteration.slice(0, s.iteration - 1)) + s.step : 0;
      const head = perIteration.length > 1
        ? `Iteration ${iteration} of ${perIteration.length} · step ${next} of ${perIteration[iteration - 1]}`
        : `Step ${next} of ${perIteration[0]}`;
      // Context windows: the window running now inside this step (the one after the last finished; the first when
      // the last report was of an earlier step), and the finished windows' share of the step in the bar.
      const w = run.window;
      let windowText = '', partial = 0;
      if (w && w.windows > 1) {
        const finished = w.iteration === iteration && w.step === next ? w.window : 0;
        windowText = ` · window ${Math.min(finished + 1, w.windows)} of ${w.windows}`;
        partial = finished / w.windows;
      }
      const elapsed = fmtTime(now - (run.samplingAt ?? run.startedAt));
      // Before the first step ends: the prompt is being encoded, until the worker says it is (or a window has run).
      if (!run.encoded && !s && !w) return { text: `Encoding the prompt · ${elapsed} elapsed`, fraction: 0 };
      const eta = s ? ` · about ${fmtTime(Math.max(0, s.etaMs - (now - (run.stepAt ?? now))))} left` : '';
      // Step 1 right after a load also builds the GPU kernels on their first use.
      const firstUse = !s && run.loadMs !== undefined ? ' (preparing GPU kernels on first use)' : '';
      return { text: `${head}${firstUse}${windowText} · ${elapsed} elapsed${eta}`, fraction: total ? Math.min(1, (done + partial) / total) : 0 };
    }
    case 'decoding':
      return { text: `Decoding frame ${Math.min(run.decoded + 1, run.frames)} of ${run.frames} · ${fmtTime(now - (run.samplingAt ?? run.startedAt))} elapsed`, fraction: run.decoded / run.frames };
    case 'idle':
      return { text: notice ?? 'Ready.', fraction: null };
  }
}
