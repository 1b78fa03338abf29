// The storage manager's state: the worker's model-cache report (models, sizes, last use, quota), delete and
// delete-all, and the browser's answer to navigator.storage.persist() (asked from the page: workers cannot ask).

import { useCallback, useEffect, useState } from 'react';
import type { FromWorker, UserError } from '../../../src/worker/protocol';
import type { WorkerClient } from '../worker-client';

export type StorageState = Extract<FromWorker, { type: 'storage' }>['report'];

export function useStorage(client: WorkerClient, busy: boolean) {
  const [report, setReport] = useState<StorageState | null>(null);
  const [error, setError] = useState<UserError | null>(null);
  const [persisted, setPersisted] = useState<boolean | null>(null);

  useEffect(() => client.subscribe((msg) => {
    if (msg.type !== 'storage') return;
    setReport(msg.report);
    setError(msg.error ?? null);
    if (msg.report.persisted !== null) setPersisted(msg.report.persisted);
  }), [client]);

  const refresh = useCallback(() => client.send({ type: 'storage', op: 'report' }), [client]);
  // On start, and whenever a run ends (downloads may have added models).
  useEffect(() => {
    if (!busy) refresh();
  }, [busy, refresh]);

  /** Asks the browser to keep the cache under storage pressure; Chrome decides by engagement, Firefox asks the user. */
  const persist = async () => {
    try {
      setPersisted(await navigator.storage.persist());
    } catch {
      setPersisted(false);
    }
  };
  // Asked once at start: models are large and slow to download again.
  useEffect(() => {
    void navigator.storage?.persisted?.().then((p) => (p ? setPersisted(true) : persist()), () => undefined);
  }, []);

  return {
    report, error, persisted, refresh, persist,
    remove: (group: string) => client.send({ type: 'storage', op: 'delete', group }),
    removeAll: () => client.send({ type: 'storage', op: 'delete-all' }),
  };
}

/** Whether every URL file of a preset is stored complete (so it works offline). */
export function presetAvailable(report: StorageState | null, urls: string[]): boolean {
  if (!report) return false;
  const complete = new Set(report.models.flatMap((m) => m.files.filter((f) => f.complete && f.url).map((f) => f.url!)));
  return urls.length > 0 && urls.every((u) => complete.has(new URL(u, location.href).href));
}
