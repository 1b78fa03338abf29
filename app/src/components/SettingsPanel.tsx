import { useId } from 'react';
import { type GenerationSpec, LIMITS, type SchedulerName } from '../../../src/pipeline/spec';
import type { PrecisionSetting } from '../../../src/worker/protocol';
import { type FormState, withPromptText } from '../form';
import { KeyframeTextError, parseKeyframes } from '../../../src/pipeline/keyframes';
import { LongAnimationControls } from './LongAnimationControls';
import { plural } from '../status-line';
import { type Recommended, SCHEDULERS, SIZE_PRESETS } from '../presets';

export interface SettingsPanelProps {
  value: FormState;
  onChange(updater: (f: FormState) => FormState): void;
  disabled: boolean;
  recommended?: Recommended;
  onSubmit(): void;
}

const { min: SIZE_MIN, max: SIZE_MAX, multiple: SIZE_STEP } = LIMITS.size;
const snapSize = (v: number) => Math.min(SIZE_MAX, Math.max(SIZE_MIN, Math.round(v / SIZE_STEP) * SIZE_STEP));

export function SettingsPanel({ value: form, onChange, disabled, recommended, onSubmit }: SettingsPanelProps) {
  const id = useId();
  const f = form.spec;
  let promptProblem: string | null = null;
  try {
    parseKeyframes(form.promptText, f.frames);
  } catch (e) {
    if (!(e instanceof KeyframeTextError)) throw e;
    promptProblem = form.promptText.trim() ? e.message : null; // an empty prompt is said on Generate
  }
  /** Sets fields of the spec. */
  const set = <K extends keyof GenerationSpec>(key: K, v: GenerationSpec[K]) => onChange((s) => ({ ...s, spec: { ...s.spec, [key]: v } }));
  const setPrecision = (v: PrecisionSetting) => onChange((s) => ({ ...s, precision: v }));
  const submitOnCtrlEnter = (e: React.KeyboardEvent) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      onSubmit();
    }
  };
  const sizePreset = f.width === f.height && (SIZE_PRESETS as readonly number[]).includes(f.width) ? f.width : null;

  return (
    <fieldset className="panel" disabled={disabled}>
      <legend>Prompts</legend>
      <label htmlFor={`${id}-prompt`}>Prompt</label>
      <textarea
        id={`${id}-prompt`} rows={3} value={form.promptText} onChange={(e) => onChange((s) => withPromptText(s, e.target.value))} onKeyDown={submitOnCtrlEnter}
        placeholder="What should move, and how?" aria-describedby={`${id}-prompt-hint`} aria-invalid={promptProblem ? true : undefined}
      />
      <p id={`${id}-prompt-hint`} className={promptProblem ? 'hint problem' : 'hint'}>
        {promptProblem ?? 'Prompt travel: one line per keyframe, "0: a bud" then "16: a flower"; frames in between blend the two.'}
      </p>
      <label htmlFor={`${id}-negative`}>Negative prompt</label>
      <textarea id={`${id}-negative`} rows={2} value={f.negativePrompt} onChange={(e) => set('negativePrompt', e.target.value)} onKeyDown={submitOnCtrlEnter} placeholder="What to avoid" />

      <div className="seed-row">
        <div>
          <label htmlFor={`${id}-seed`}>Seed</label>
          <input
            id={`${id}-seed`}
            type="number"
            min={0}
            max={4294967295}
            step={1}
            value={f.seed}
            onChange={(e) => onChange((s) => ({ ...s, spec: { ...s.spec, seed: Math.min(LIMITS.seed.max, Math.max(0, Math.floor(Number(e.target.value) || 0))) }, randomizeSeed: false }))}
          />
        </div>
        <label className="check">
          <input type="checkbox" checked={form.randomizeSeed} onChange={(e) => onChange((st) => ({ ...st, randomizeSeed: e.target.checked }))} /> New random seed each run
        </label>
      </div>
      <p className="hint">Same seed + same settings + same models = the same animation on this GPU and precision; other GPUs or f16/f32 give slightly different pixels.</p>

      <legend className="sublegend">Animation</legend>
      <LongAnimationControls spec={f} set={set} />

      <div className="size-row" role="group" aria-labelledby={`${id}-size-label`}>
        <span id={`${id}-size-label`} className="label">Size</span>
        <div className="chips">
          {SIZE_PRESETS.map((s) => (
            <button key={s} type="button" className={`chip${sizePreset === s ? ' on' : ''}`} aria-pressed={sizePreset === s} onClick={() => onChange((st) => ({ ...st, spec: { ...st.spec, width: s, height: s } }))}>
              {s}²
            </button>
          ))}
        </div>
        <div className="wh">
          <label htmlFor={`${id}-width`}>Width</label>
          <input id={`${id}-width`} type="number" min={SIZE_MIN} max={SIZE_MAX} step={SIZE_STEP} value={f.width} onChange={(e) => set('width', Number(e.target.value))} onBlur={() => set('width', snapSize(f.width))} />
          <span aria-hidden="true">×</span>
          <label htmlFor={`${id}-height`}>Height</label>
          <input id={`${id}-height`} type="number" min={SIZE_MIN} max={SIZE_MAX} step={SIZE_STEP} value={f.height} onChange={(e) => set('height', Number(e.target.value))} onBlur={() => set('height', snapSize(f.height))} />
        </div>
      </div>
      <p className="hint">Multiples of {SIZE_STEP}. Smaller sizes need far less GPU memory and time (256² is about 6× faster than 512²).</p>

      <legend className="sublegend">Sampling</legend>
      <div className="grid2 wide-right">
        <div>
          <label htmlFor={`${id}-steps`}>Steps</label>
          <input id={`${id}-steps`} type="number" min={1} max={100} step={1} value={f.steps} onChange={(e) => set('steps', Math.max(1, Math.min(100, Math.floor(Number(e.target.value) || 1))))} />
        </div>
        <div>
          <label htmlFor={`${id}-scheduler`}>Scheduler</label>
          <select id={`${id}-scheduler`} value={f.scheduler} onChange={(e) => set('scheduler', e.target.value as SchedulerName)}>
            <option value="auto">Auto (the motion module's own)</option>
            {SCHEDULERS.map((s) => (
              <option key={s.id} value={s.id}>{s.label}{recommended?.scheduler === s.id ? ' · recommended' : ''}</option>
            ))}
          </select>
        </div>
      </div>
      <div className="inline-range">
        <label htmlFor={`${id}-guidance`}>Guidance</label>
        <input id={`${id}-guidance`} type="range" min={1} max={15} step={0.5} value={f.guidance} onChange={(e) => set('guidance', Number(e.target.value))} />
        <output htmlFor={`${id}-guidance`}>{f.guidance.toFixed(1)}</output>
      </div>
      {recommended && ((f.scheduler !== 'auto' && f.scheduler !== recommended.scheduler) || f.steps !== recommended.steps || f.guidance !== recommended.guidance) && (
        <p className="hint">
          This motion module is made for {SCHEDULERS.find((s) => s.id === recommended.scheduler)?.label}, {plural(recommended.steps, 'step')}, guidance {recommended.guidance}.{' '}
          <button type="button" className="link" onClick={() => onChange((s) => ({ ...s, spec: { ...s.spec, ...recommended } }))}>Use these</button>
        </p>
      )}

      <details className="advanced">
        <summary>Advanced</summary>
        <div className="grid2">
          <div>
            <label htmlFor={`${id}-activations`}>Activations</label>
            <select id={`${id}-activations`} value={form.precision.activations} onChange={(e) => setPrecision({ ...form.precision, activations: e.target.value as PrecisionSetting['activations'] })}>
              <option value="auto">Auto</option>
              <option value="f16">f16</option>
              <option value="f32">f32</option>
            </select>
          </div>
          <div>
            <label htmlFor={`${id}-weights`}>Weights</label>
            <select id={`${id}-weights`} value={form.precision.weights} onChange={(e) => setPrecision({ ...form.precision, weights: e.target.value as PrecisionSetting['weights'] })}>
              <option value="auto">Auto</option>
              <option value="f16">f16</option>
              <option value="f32">f32</option>
              <option value="int8">int8</option>
              <option value="int4">int4</option>
            </select>
          </div>
          <div>
            <label htmlFor={`${id}-clipskip`}>CLIP layers skipped</label>
            <input id={`${id}-clipskip`} type="number" min={0} max={3} step={1} value={f.clipSkip} onChange={(e) => set('clipSkip', Math.max(0, Math.min(3, Math.floor(Number(e.target.value) || 0))))} />
          </div>
        </div>
        <p className="hint">Auto computes in f16 where the GPU has shader-f16 (half the memory), f32 otherwise, and stores the UNet's weights in that float type unless only int8 (about half of f16) or int4 (about a quarter) fits. f16/f32 weights need activations of the same type. CLIP layers skipped: 0 uses the text encoder's last layer; 1 (what A1111 calls "CLIP skip 2") suits some anime-style models.</p>
      </details>
    </fieldset>
  );
}
