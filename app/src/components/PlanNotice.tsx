import type { Capabilities, PlanChange } from '../../../src/worker/protocol';
import { type PlanState, planView } from '../plan-verdict';

/** The id of the verdict's sentence (Generate's accessible description). */
export const PLAN_NOTICE_ID = 'plan-verdict-line';

/**
 * The memory planner's verdict next to Generate: the planned peak against the adapter's limits, why a run cannot
 * fit (Generate is then disabled and points here), the smaller setting that fits as one click, and a warning when a
 * run fits the GPU's limits but is far beyond this device.
 */
export function PlanNotice({ state, caps, onApply, disabled }: { state: PlanState; caps: Capabilities | null; onApply(c: PlanChange): void; disabled: boolean }) {
  const view = planView(state, caps);
  const suggestion = state.kind === 'verdict' ? state.verdict.suggestion : undefined;
  return (
    <div className={`plan-verdict ${view?.level ?? ''}`} role="region" aria-label="Memory plan" aria-live="polite" hidden={!view}>
      {view && <p id={PLAN_NOTICE_ID} className={view.level === 'error' ? 'hint problem' : 'hint'}>{view.line}</p>}
      {view?.warning && <p className="warn">{view.warning}</p>}
      {view?.searching && <p className="hint">Looking for a smaller setting that fits…</p>}
      {view?.action && suggestion && (
        <button type="button" className="link" onClick={() => onApply(suggestion)} disabled={disabled}>{view.action}</button>
      )}
      {view?.level === 'error' && !view.searching && !view.action && <p className="hint">No smaller size or frame count fits with these models; try int8/int4 weights or other models.</p>}
    </div>
  );
}
