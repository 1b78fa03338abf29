// The history list: loaded once, saved to after each finished run, reopened into a Result.

import { useEffect, useState } from 'react';
import { decodeImage, encodePng } from '../../../src/export/png';
import { deleteHistory, type HistoryEntry, listHistory, saveHistory } from '../history';
import type { Result } from '../result';
import { parseSpec } from '../../../src/pipeline/spec';

export function useHistory({ onSaveError }: { onSaveError(message: string): void }) {
  const [entries, setEntries] = useState<HistoryEntry[]>([]);

  useEffect(() => {
    listHistory().then(setEntries, () => setEntries([]));
  }, []);

  /** Stores a finished result as PNG frames with its settings. */
  const remember = async (r: Result, fps: number) => {
    try {
      const frames = await Promise.all(r.frames.map((f) => encodePng(f!, r.width, r.height)));
      const entry: HistoryEntry = {
        id: `${Date.now()}-${r.spec.seed}`, createdAt: Date.now(), settings: r.spec, models: r.models,
        width: r.width, height: r.height, fps, elapsedMs: r.elapsedMs ?? 0, frames,
      };
      await saveHistory(entry);
      setEntries(await listHistory());
    } catch (e) {
      onSaveError(`The animation could not be saved to history (${(e as Error).message}).`);
    }
  };

  /** The entry's frames decoded back to RGBA, and its spec read with parseSpec (older versions migrate; a bad one throws a SpecError). */
  const load = async (entry: HistoryEntry): Promise<Result> => {
    const spec = parseSpec(entry.settings);
    const frames = await Promise.all(entry.frames.map(async (b) => (await decodeImage(b)).rgba));
    return { frames, width: entry.width, height: entry.height, spec, models: entry.models, elapsedMs: entry.elapsedMs, done: true };
  };

  const remove = async (entry: HistoryEntry) => {
    await deleteHistory(entry.id);
    setEntries(await listHistory());
  };

  return { entries, remember, load, remove };
}
