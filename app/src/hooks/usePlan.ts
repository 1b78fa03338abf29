// The memory planner's verdict on the current settings and models, asked of the worker without generating: one
// 'plan' request per change of what the plan depends on (app/src/plan-verdict.ts planKey), debounced; a newer
// request supersedes the older (only the latest id's answer is taken). Never sent while a run is in flight: the
// worker would queue it behind the generation anyway, and the answer is asked again when the run ends.

import { useEffect, useMemo, useRef, useState } from 'react';
import type { FromWorker } from '../../../src/worker/protocol';
import type { FormState } from '../form';
import { selectionKey, type ModelChoice } from '../model-choice';
import { planKey, type PlanState } from '../plan-verdict';
import { prepareRequest } from '../request';
import type { WorkerClient } from '../worker-client';

/** Quiet time after the last change before the worker is asked (typing a size fires a change per key). */
export const PLAN_DEBOUNCE_MS = 400;

export function usePlan(client: WorkerClient, { enabled, form, models }: { enabled: boolean; form: FormState; models: ModelChoice }): PlanState {
  const [state, setState] = useState<PlanState>({ kind: 'idle' });
  const latest = useRef(0);
  // The request as Generate would send it; settings that cannot run yet (an empty URL, a bad keyframe) get no plan.
  const prepared = useMemo(() => {
    try {
      const r = prepareRequest(form, models, form.spec.seed);
      return 'request' in r ? { request: r.request, key: planKey(r.request) } : null;
    } catch {
      return null;
    }
  }, [form, models]);
  const key = prepared?.key ?? null;
  const request = useRef(prepared?.request);
  request.current = prepared?.request;

  useEffect(() => client.subscribe((msg: FromWorker) => {
    if (msg.type !== 'plan' || msg.id !== latest.current) return;
    setState(msg.verdict ? { kind: 'verdict', verdict: msg.verdict } : { kind: 'unavailable', error: msg.error! });
  }), [client]);

  useEffect(() => {
    latest.current = 0; // an answer still on its way is for other settings
    const r = request.current;
    if (!enabled || !key || !r) {
      setState({ kind: 'idle' });
      return;
    }
    setState({ kind: 'checking' });
    const timer = setTimeout(() => {
      const id = client.nextId();
      latest.current = id;
      client.send({ type: 'plan', id, models: r.selection, modelsKey: selectionKey(r.selection), precision: r.precision, spec: r.spec });
    }, PLAN_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [client, enabled, key]);

  return state;
}
