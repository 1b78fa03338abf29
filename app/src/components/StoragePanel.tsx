// The storage manager: stored models with their size and last use (and the data prepared from them: a text-encoder
// graph, quantized weights), the browser's quota (used / available), whether storage is persistent, delete per model
// (with what was prepared from it) and delete-all.

import { fmtBytes } from '../status-line';
import type { useStorage } from '../hooks/useStorage';

export interface StoragePanelProps {
  storage: ReturnType<typeof useStorage>;
  disabled: boolean;
}

function ago(t: number): string {
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 90) return 'just now';
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

export function StoragePanel({ storage, disabled }: StoragePanelProps) {
  const { report, error, persisted } = storage;
  const used = report?.usage ?? null, quota = report?.quota ?? null;
  return (
    <details className="panel storage" data-testid="storage-panel">
      <summary>
        Storage{report ? `: ${report.models.length} model${report.models.length === 1 ? '' : 's'}` : ''}
        {used !== null && quota !== null ? ` · ${fmtBytes(used)} used, ${fmtBytes(Math.max(0, quota - used))} available` : ''}
      </summary>
      {error && <p className="warn" role="alert">{error.message}{error.suggestion ? ` ${error.suggestion}` : ''}</p>}
      {report && !report.available && <p className="hint">Models are read from the network each time (this browser offers no storage for them).</p>}
      <p className="hint" data-testid="persisted">
        {persisted === true ? 'Storage is persistent: the browser keeps the models until you delete them.'
          : persisted === false ? 'Storage is not persistent: the browser may delete the models when disk space runs low.'
            : 'Checking whether storage is persistent…'}
        {persisted === false && <> <button type="button" className="link" onClick={() => void storage.persist()}>Ask again</button></>}
      </p>
      {report && report.models.length > 0 && (
        <table className="storage-table">
          <thead>
            <tr><th scope="col">Model</th><th scope="col">Size</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {report.models.map((m) => (
              <tr key={m.group} data-testid="stored-model">
                <th scope="row" title={m.files.map((f) => `${f.name}${f.sha256 ? ` sha256 ${f.sha256}` : ''}${f.revision ? ` @ ${f.revision}` : ''}`).join('\n')}>
                  {m.group}{!m.complete && <span className="hint"> (partly downloaded: resumes on next use)</span>}
                  {m.derivedBytes > 0 && <span className="hint"> (with {fmtBytes(m.derivedBytes)} prepared from it for a faster start)</span>}
                </th>
                <td>{fmtBytes(m.bytes)}</td>
                <td>{m.lastUsed ? ago(m.lastUsed) : '—'}</td>
                <td><button type="button" className="link" disabled={disabled} onClick={() => storage.remove(m.group)} aria-label={`Delete ${m.group}`}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {report?.models.length === 0 && <p className="hint">No models stored yet: they are stored on first use.</p>}
      <p>
        <button type="button" onClick={storage.refresh}>Refresh</button>{' '}
        <button type="button" className="danger" disabled={disabled || !report?.models.length} onClick={() => { if (confirm('Delete every stored model?')) storage.removeAll(); }}>Delete all</button>
      </p>
    </details>
  );
}
