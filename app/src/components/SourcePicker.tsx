import { useId, useState, type DragEvent } from 'react';
import { formatBytes } from '../../../src/worker/capability';
import { filesOfDrop, filesOfInput } from '../local-files';

/** A local file and its path relative to the chosen folder (or its name). */
export interface LocalFile {
  file: File;
  path: string;
}

/**
 * What one model slot holds: nothing, a preset, a URL / Hub repo, a local file, or several local files (a folder,
 * or a multiple pick) from which the model's files are picked.
 */
export type SlotChoice =
  | { mode: 'none' }
  | { mode: 'preset'; presetId: string }
  | { mode: 'url'; url: string }
  | { mode: 'file'; file: File | null }
  | { mode: 'files'; files: LocalFile[] };

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
  /** Accepts several files or a folder (a diffusers model: unet/, vae/, text_encoder/ and their config.json). */
  multiple?: boolean;
}

function selectValue(v: SlotChoice): string {
  return v.mode === 'preset' ? `preset:${v.presetId}` : v.mode === 'files' ? 'file' : v.mode;
}

/** One file → 'file'; several, or any inside a folder → 'files'. */
function choiceOf(files: LocalFile[]): SlotChoice {
  if (files.length === 1 && !files[0].path.includes('/')) return { mode: 'file', file: files[0].file };
  return { mode: 'files', files };
}

/** True when a drag carries files (not text or links). */
export function dragHasFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files');
}

/** A labelled model slot: preset list, Hugging Face URL, or a local .safetensors file (picked or dropped here). */
export function SourcePicker({ label, presets, value, onChange, allowNone, strength, note, disabled, multiple }: SourcePickerProps) {
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
    if (multiple) {
      void filesOfDrop(e.dataTransfer).then((files) => files.length && onChange(choiceOf(files)));
      return;
    }
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
        <option value="url">Hugging Face repo or URL…</option>
        <option value="file">{multiple ? 'Local files or folder…' : 'Local .safetensors file…'}</option>
      </select>
      {value.mode === 'url' && (
        <>
          <label htmlFor={`${id}-url`} className="sub">{label} URL</label>
          <input
            id={`${id}-url`}
            type="text"
            inputMode="url"
            autoComplete="off"
            spellCheck={false}
            placeholder={multiple ? 'owner/name, owner/name@revision/folder, or https://…/model.safetensors' : 'owner/name/file.safetensors or https://…/file.safetensors'}
            value={value.url}
            onChange={(e) => onChange({ mode: 'url', url: e.target.value.trim() })}
            disabled={disabled}
          />
        </>
      )}
      {(value.mode === 'file' || value.mode === 'files') && (
        <div className="file-pick">
          <label htmlFor={`${id}-file`} className="sub">{label} {multiple ? 'files' : 'file'}</label>
          <input
            id={`${id}-file`}
            type="file"
            accept={multiple ? '.safetensors,.json' : '.safetensors'}
            multiple={multiple}
            onChange={(e) => {
              const files = filesOfInput(e.target.files);
              onChange(multiple && files.length ? choiceOf(files) : { mode: 'file', file: files[0]?.file ?? null });
            }}
            disabled={disabled}
          />
          {multiple && (
            <>
              <label htmlFor={`${id}-folder`} className="sub">{label} folder</label>
              <input
                id={`${id}-folder`}
                type="file"
                {...{ webkitdirectory: '', directory: '' }}
                onChange={(e) => {
                  const files = filesOfInput(e.target.files);
                  if (files.length) onChange(choiceOf(files));
                }}
                disabled={disabled}
              />
            </>
          )}
          <p className="hint">
            {value.mode === 'files'
              ? `${value.files.length} files (${formatBytes(value.files.reduce((a, f) => a + f.file.size, 0))}) from ${value.files[0]?.path.split('/')[0] ?? 'your disk'}`
              : value.file ? `${value.file.name} (${formatBytes(value.file.size)})` : multiple ? 'Pick files or a folder, or drop them here.' : 'Pick a file, or drop one here.'}
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
