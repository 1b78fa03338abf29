import { useEffect, useState } from 'react';
import { entrySpec, type HistoryEntry } from '../history';
import { promptSummary } from '../../../src/pipeline/spec';
import { plural } from '../status-line';

export interface HistoryPanelProps {
  entries: HistoryEntry[];
  onOpen(e: HistoryEntry): void;
  onDelete(e: HistoryEntry): void;
  disabled: boolean;
}

function Thumb({ blob, alt }: { blob: Blob; alt: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const u = URL.createObjectURL(blob);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [blob]);
  return url ? <img src={url} alt={alt} /> : null;
}

/** Recent generations stored in this browser (IndexedDB). */
export function HistoryPanel({ entries, onOpen, onDelete, disabled }: HistoryPanelProps) {
  return (
    <section className="history" aria-label="History">
      <h2>History <span className="hint">kept in this browser only</span></h2>
      {entries.length === 0 ? (
        <p className="hint">Finished animations are kept here.</p>
      ) : (
        <ul>
          {entries.map((e) => {
            const spec = entrySpec(e);
            const prompt = spec ? promptSummary(spec) : '(settings from another version)';
            return (
            <li key={e.id}>
              <button type="button" className="thumb" onClick={() => onOpen(e)} disabled={disabled} aria-label={`Open "${prompt}" (seed ${spec?.seed ?? '?'})`}>
                {e.frames[0] && <Thumb blob={e.frames[0]} alt="" />}
              </button>
              <div className="meta">
                <p className="prompt" title={prompt}>{prompt}</p>
                <p className="hint">
                  seed {spec?.seed ?? '?'} · {e.width}×{e.height} · {plural(e.frames.length, 'frame')} · {new Date(e.createdAt).toLocaleString()}
                </p>
              </div>
              <button type="button" className="link" onClick={() => onDelete(e)} disabled={disabled} aria-label={`Delete "${prompt}" from history`}>Delete</button>
            </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
