// Download progress while models are fetched: one bar per file and one overall (bytes, speed, time left).

import type { DownloadProgress } from '../../../src/worker/protocol';
import { downloadText, fmtBytes } from '../status-line';

const STATE: Record<string, string> = {
  queued: 'waiting', cached: 'stored', downloading: 'downloading', verifying: 'checking sha256', done: 'done', error: 'failed', cancelled: 'cancelled',
};

export function DownloadPanel({ progress }: { progress: DownloadProgress | undefined }) {
  if (!progress || progress.files.every((f) => f.state === 'cached')) return null;
  return (
    <div className="downloads" data-testid="downloads" aria-label="Downloads">
      <div className="download-row overall">
        <span>All files: {downloadText(progress)}</span>
        <progress aria-label="Download progress, all files" max={1} value={progress.total ? progress.received / progress.total : undefined} />
      </div>
      {progress.files.map((f) => (
        <div key={f.name} className="download-row" data-state={f.state}>
          <span className="download-name" title={f.name}>{f.name.split('/').slice(-2).join('/')}</span>
          <span className="hint">{f.total !== null ? `${fmtBytes(f.received)} of ${fmtBytes(f.total)}` : fmtBytes(f.received)} · {STATE[f.state] ?? f.state}{f.note ? ` · ${f.note}` : ''}</span>
          <progress aria-label={`Download progress, ${f.name}`} max={1} value={f.total ? f.received / f.total : undefined} />
        </div>
      ))}
    </div>
  );
}
