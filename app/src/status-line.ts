// The one-line run status under the output (pure: the run state in, the text and progress fraction out).

import type { LoadPhase } from '../../src/worker/protocol';

export type RunPhase = 'idle' | 'loading' | 'sampling' | 'decoding' | 'cancelling';

/** The request in flight, as the worker's messages have described it so far. */
export interface RunState {
  id: number;
  phase: RunPhase;
  load?: { phase: LoadPhase; file?: string; loaded: number; total: number };
  step?: { step: number; steps: number; elapsedMs: number; etaMs: number };
  decoded: number;
  frames: number;
}

/** m:ss. */
export function fmtTime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
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
}

export interface StatusLine {
  text: string;
  /** 0–1 for the progress bar; null = indeterminate. */
  fraction: number | null;
}

export function statusLine({ checked, notice, run, plannedSteps }: StatusInput): StatusLine {
  if (!run) return { text: checked ? notice ?? 'Ready.' : 'Checking WebGPU…', fraction: null };
  switch (run.phase) {
    case 'cancelling':
      return { text: 'Cancelling…', fraction: null };
    case 'loading': {
      const l = run.load;
      if (!l) return { text: 'Starting…', fraction: null };
      return { text: `Loading models: ${LOAD_PHASE[l.phase]}${l.file ? ` ${l.file}` : ''} (${l.loaded} of ${l.total})`, fraction: l.total ? l.loaded / l.total : null };
    }
    case 'sampling': {
      // "Step i of N" names the step running now; elapsed and ETA come from the steps finished so far.
      const steps = run.step?.steps ?? plannedSteps;
      const done = run.step?.step ?? 0;
      const text = `Step ${done + 1} of ${steps}` + (run.step ? ` · ${fmtTime(run.step.elapsedMs)} elapsed · about ${fmtTime(run.step.etaMs)} left` : ' · encoding the prompt');
      return { text, fraction: steps ? done / steps : 0 };
    }
    case 'decoding':
      return { text: `Decoding frame ${Math.min(run.decoded + 1, run.frames)} of ${run.frames}`, fraction: run.decoded / run.frames };
    case 'idle':
      return { text: notice ?? 'Ready.', fraction: null };
  }
}
