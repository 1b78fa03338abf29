// The memory planner's verdict as the page shows it (pure): the words next to Generate, whether Generate is
// blocked, the warning for a run far beyond this device, and a suggested setting applied to the form.

import { formatBytes } from '../../src/worker/capability';
import { describePrecision } from '../../src/pipeline/precision';
import { usesCfg } from '../../src/schedulers';
import type { Capabilities, PlanChange, PlanVerdict, UserError } from '../../src/worker/protocol';
import type { FormState } from './form';
import { selectionKey } from './model-choice';
import type { GenerateRequest } from './request';

/** Where the check of the current settings stands. */
export type PlanState =
  | { kind: 'idle' }
  | { kind: 'checking' }
  | { kind: 'verdict'; verdict: PlanVerdict }
  /** The planner could not answer (the model cannot be read yet, offline…): Generate stays enabled and says why at once. */
  | { kind: 'unavailable'; error: UserError };

/** What the plan depends on (the prompt and seed do not change it): a new key means a new plan request. */
export function planKey(r: GenerateRequest): string {
  const s = r.spec;
  return JSON.stringify([selectionKey(r.selection), s.width, s.height, s.frames, s.context, usesCfg(s.guidance), r.precision]);
}

export interface PlanView {
  /** One sentence: the planner's figure against the adapter's. */
  line: string;
  level: 'info' | 'warning' | 'error';
  /** A run that fits but is far beyond this device (not a block). */
  warning?: string;
  /** The suggested setting, as the button says it; `searching` while the worker still looks for one. */
  action?: string;
  searching?: boolean;
}

/** The view of a state; null when there is nothing to say. */
export function planView(state: PlanState, caps: Capabilities | null): PlanView | null {
  switch (state.kind) {
    case 'idle':
      return null;
    case 'checking':
      return { line: 'Checking whether this run fits the GPU…', level: 'info' };
    case 'unavailable':
      return { line: `Not checked against this GPU's limits yet: ${state.error.message}`.replace(/([^.])$/, '$1.'), level: 'info' };
    case 'verdict': {
      const v = state.verdict;
      const limits = `this GPU allows ${formatBytes(v.limits.maxStorageBufferBindingSize)} per buffer binding and ${formatBytes(v.limits.maxBufferSize)} per buffer`;
      if (!v.fits) {
        const s = v.suggestion;
        return {
          line: `This run cannot fit this GPU: ${v.reason ?? limits}`.replace(/([^.])$/, '$1.'),
          level: 'error',
          ...(s ? { action: `Use ${s.label} instead (planned ${formatBytes(s.peakBytes)} of GPU memory)` } : {}),
          ...(v.searching ? { searching: true } : {}),
        };
      }
      const peak = v.peakBytes ?? 0;
      const line = `Planned ${formatBytes(peak)} of GPU memory${v.precision ? ` (${describePrecision(v.precision)})` : ''}; ${limits}.`;
      // Browsers do not tell a GPU's memory; navigator.deviceMemory (the device's RAM, rounded down) is the only
      // figure, and on integrated GPUs the two are the same memory.
      const ram = caps?.deviceMemoryGiB;
      const warning = ram && peak > ram * 2 ** 30
        ? `The plan needs ${formatBytes(peak)}, more than the ${ram} GB of memory this device reports: the run may run out of memory. A smaller size, fewer frames or int8/int4 weights need less.`
        : undefined;
      return { line, level: warning ? 'warning' : 'info', ...(warning ? { warning } : {}) };
    }
  }
}

/** Whether Generate is blocked: the planner refused the current settings. */
export const planRefused = (state: PlanState): boolean => state.kind === 'verdict' && !state.verdict.fits;

/** The form with a suggested change applied (size, frames, context-window length or precision). */
export function withPlanChange(f: FormState, c: PlanChange): FormState {
  const spec = { ...f.spec };
  if (c.width !== undefined) spec.width = c.width;
  if (c.height !== undefined) spec.height = c.height;
  if (c.frames !== undefined) spec.frames = c.frames;
  if (c.contextLength !== undefined && spec.context) spec.context = { ...spec.context, length: c.contextLength };
  return { ...f, spec, precision: c.precision ?? f.precision };
}
