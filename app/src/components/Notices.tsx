import type { Advice } from '../../../src/worker/capability';

/** Capability and memory advice for the current settings: errors block Generate, warnings only inform. */
export function Notices({ advice }: { advice: Advice[] }) {
  if (advice.length === 0) return null;
  return (
    <div className="notices" aria-label="Compatibility" role="region">
      {advice.map((a, i) => (
        <div key={i} className={`notice ${a.level}`} role={a.level === 'error' ? 'alert' : 'note'}>
          <p>{a.message}</p>
          {a.suggestion && <p className="suggestion">{a.suggestion}</p>}
        </div>
      ))}
    </div>
  );
}
