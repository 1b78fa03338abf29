import { useId, useState, type DragEvent } from 'react';
import { formatBytes } from '../../../src/worker/capability';

/** What one model slot holds: nothing, a preset, a Hub URL, or a local file. */
export type SlotChoice =
  | { mode: 'none' }
  | { mode: 'preset'; presetId: string }
  | { mode: 'url'; url: string }
  | { mode: 'file'; file: File | null };

export interface SourcePickerProps {
  label: string;
  presets: { id: string; label: string }[];
  value: SlotChoice;
  onChange(v: SlotChoice): void;
  allowNone?: boolean;
  /** Shows a strength slider when given. */
  strength?: { value: number; onChange(v: number): void; min?: number; max?: number };
  note?: string;
  disabled?: boolean;
}

function selectValue(v: SlotChoice): string {
  return v.mode === 'preset' ? `preset:${v.presetId}` : v.mode;
}

/** True when a drag carries files (not text or links). */
export function dragHasFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files');
}

/** A labelled model slot: preset list, Hugging Face URL, or a local .safetensors file (picked or dropped here). */
export function SourcePicker({ label, presets, value, onChange, allowNone, strength, note, disabled }: SourcePickerProps) {
  const id = useId();
  const [dragOver, setDragOver] = useState(false);

  const choose = (raw: string) => {
    if (raw === 'none') onChange({ mode: 'none' });
    else if (raw === 'url') onChange({ mode: 'url', url: '' });
    else if (raw === 'file') onChange({ mode: 'file', file: null });
    else onChange({ mode: 'preset', presetId: raw.slice('preset:'.length) });
  };

  const onDrop = (e: DragEvent) => {
    if (!dragHasFiles(e)) return;
    e.preventDefault();
    e.stopPropagation();
    setDragOver(false);
    const file = e.dataTransfer.files[0];
    if (file) onChange({ mode: 'file', file });
  };

  return (
    <div
      className={`slot${dragOver ? ' drag-over' : ''}`}
      onDragOver={(e) => {
        if (!dragHasFiles(e) || disabled) return;
        e.preventDefault();
        e.stopPropagation();
        setDragOver(true);
      }}
      onDragLeave={() => setDragOver(false)}
      onDrop={disabled ? undefined : onDrop}
      data-testid={`slot-${label}`}
    >
      <label htmlFor={`${id}-select`}>{label}</label>
      <select id={`${id}-select`} value={selectValue(value)} onChange={(e) => choose(e.target.value)} disabled={disabled}>
        {allowNone && <option value="none">None</option>}
        {presets.map((p) => (
          <option key={p.id} value={`preset:${p.id}`}>{p.label}</option>
        ))}
        <option value="url">Hugging Face / web URL…</option>
        <option value="file">Local .safetensors file…</option>
      </select>
      {value.mode === 'url' && (
        <>
          <label htmlFor={`${id}-url`} className="sub">{label} URL</label>
          <input
            id={`${id}-url`}
            type="url"
            inputMode="url"
            placeholder="https://huggingface.co/<repo>/resolve/main/<file>.safetensors"
            value={value.url}
            onChange={(e) => onChange({ mode: 'url', url: e.target.value.trim() })}
            disabled={disabled}
          />
        </>
      )}
      {value.mode === 'file' && (
        <div className="file-pick">
          <label htmlFor={`${id}-file`} className="sub">{label} file</label>
          <input
            id={`${id}-file`}
            type="file"
            accept=".safetensors"
            onChange={(e) => onChange({ mode: 'file', file: e.target.files?.[0] ?? null })}
            disabled={disabled}
          />
          <p className="hint">
            {value.file ? `${value.file.name} (${formatBytes(value.file.size)})` : 'Pick a file, or drop one here.'}
          </p>
        </div>
      )}
      {strength && value.mode !== 'none' && (
        <div className="inline-range">
          <label htmlFor={`${id}-strength`}>{label} strength</label>
          <input
            id={`${id}-strength`}
            type="range"
            min={strength.min ?? 0}
            max={strength.max ?? 1.5}
            step={0.05}
            value={strength.value}
            onChange={(e) => strength.onChange(Number(e.target.value))}
            disabled={disabled}
          />
          <output htmlFor={`${id}-strength`}>{strength.value.toFixed(2)}</output>
        </div>
      )}
      {note && <p className="hint">{note}</p>}
    </div>
  );
}
