// The long-animation part of the form (issue 9): frames (up to 32 without windows, up to the spec's limit with them),
// sliding context windows with their length/overlap/dilation and the closed loop, motion strength, and FreeInit.
// Every control edits the GenerationSpec; nothing here is UI-only.
import { useId } from 'react';
import {
  DEFAULT_FREEINIT, DEFAULT_UNIFORM, type FreeInitOptions, type GenerationSpec, LIMITS, type UniformContext,
} from '../../../src/pipeline/spec';

/** Frames a plain run offers (the motion modules' positional tables hold 24–32 frames); windows go further. */
export const PLAIN_MAX_FRAMES = 32;
/** The frames slider's end with windows on (the spec takes up to LIMITS.frames.max; the number field goes there). */
export const WINDOWED_SLIDER_MAX = 256;

export interface LongAnimationControlsProps {
  spec: GenerationSpec;
  set<K extends keyof GenerationSpec>(key: K, v: GenerationSpec[K]): void;
}

const clampInt = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(Number.isFinite(v) ? v : lo)));

export function LongAnimationControls({ spec: f, set }: LongAnimationControlsProps) {
  const id = useId();
  const windows = f.context?.method === 'uniform' ? f.context : null;
  const maxFrames = windows ? LIMITS.frames.max : PLAIN_MAX_FRAMES;
  const setWindows = (patch: Partial<UniformContext>) => set('context', { ...(windows ?? DEFAULT_UNIFORM), ...patch });
  const fi = f.freeInit;
  const setFreeInit = (patch: Partial<FreeInitOptions>) => set('freeInit', { ...(fi ?? { ...DEFAULT_FREEINIT, iterations: 2 }), ...patch });
  const setFrames = (v: number) => set('frames', clampInt(v, 1, maxFrames));

  return (
    <>
      <div className="inline-range">
        <label htmlFor={`${id}-frames`}>Frames</label>
        <input
          id={`${id}-frames`} type="range" min={8} max={windows ? WINDOWED_SLIDER_MAX : PLAIN_MAX_FRAMES} step={1} value={Math.min(f.frames, windows ? WINDOWED_SLIDER_MAX : PLAIN_MAX_FRAMES)}
          onChange={(e) => setFrames(Number(e.target.value))}
        />
        <input
          type="number" className="frames-number" aria-label="Frames (number)" min={1} max={maxFrames} step={1} value={f.frames}
          onChange={(e) => setFrames(Number(e.target.value))}
        />
      </div>

      <label className="check">
        <input
          type="checkbox" checked={windows !== null}
          onChange={(e) => {
            if (e.target.checked) set('context', { ...DEFAULT_UNIFORM });
            else {
              set('context', null);
              if (f.frames > PLAIN_MAX_FRAMES) set('frames', PLAIN_MAX_FRAMES);
            }
          }}
        /> Sliding context windows (long animations)
      </label>
      {windows && (
        <div className="grid3">
          <div>
            <label htmlFor={`${id}-wlen`}>Window</label>
            <input id={`${id}-wlen`} type="number" min={2} max={PLAIN_MAX_FRAMES} step={1} value={windows.length}
              onChange={(e) => { const length = clampInt(Number(e.target.value), 2, PLAIN_MAX_FRAMES); setWindows({ length, overlap: Math.min(windows.overlap, length - 1) }); }} />
          </div>
          <div>
            <label htmlFor={`${id}-woverlap`}>Overlap</label>
            <input id={`${id}-woverlap`} type="number" min={0} max={windows.length - 1} step={1} value={windows.overlap}
              onChange={(e) => setWindows({ overlap: clampInt(Number(e.target.value), 0, windows.length - 1) })} />
          </div>
          <div>
            <label htmlFor={`${id}-wstride`}>Stride levels</label>
            <input id={`${id}-wstride`} type="number" min={1} max={LIMITS.dilationLevels.max} step={1} value={windows.stride}
              onChange={(e) => setWindows({ stride: clampInt(Number(e.target.value), 1, LIMITS.dilationLevels.max) })} />
          </div>
        </div>
      )}
      {windows && (
        <>
          <label className="check">
            <input type="checkbox" checked={windows.closedLoop} onChange={(e) => setWindows({ closedLoop: e.target.checked })} /> Closed loop (the last frame leads into the first)
          </label>
          <p className="hint">
            Each UNet pass sees one window of {windows.length} frames (GPU memory of {windows.length} frames, whatever the length); windows start every {windows.length - windows.overlap} frames and are blended frame by frame.
            Stride levels above 1 add windows over every 2nd, 4th… frame.
          </p>
        </>
      )}

      <div className="inline-range">
        <label htmlFor={`${id}-motion`}>Motion strength</label>
        <input id={`${id}-motion`} type="range" min={LIMITS.motionStrength.min} max={LIMITS.motionStrength.max} step={0.05} value={f.motionStrength}
          onChange={(e) => set('motionStrength', Number(e.target.value))} />
        <output htmlFor={`${id}-motion`}>{f.motionStrength.toFixed(2)}</output>
      </div>

      <label className="check">
        <input type="checkbox" checked={fi !== null} onChange={(e) => set('freeInit', e.target.checked ? { ...DEFAULT_FREEINIT, iterations: 2 } : null)} /> FreeInit (steadier motion; runs the sampling several times)
      </label>
      {fi && (
        <div className="grid3">
          <div>
            <label htmlFor={`${id}-fiiter`}>Iterations</label>
            <input id={`${id}-fiiter`} type="number" min={1} max={LIMITS.freeInitIterations.max} step={1} value={fi.iterations}
              onChange={(e) => setFreeInit({ iterations: clampInt(Number(e.target.value), 1, LIMITS.freeInitIterations.max) })} />
          </div>
          <div>
            <label htmlFor={`${id}-fimethod`}>Filter</label>
            <select id={`${id}-fimethod`} value={fi.method} onChange={(e) => setFreeInit({ method: e.target.value as FreeInitOptions['method'] })}>
              <option value="butterworth">Butterworth</option>
              <option value="gaussian">Gaussian</option>
              <option value="ideal">Ideal</option>
            </select>
          </div>
          <label className="check">
            <input type="checkbox" checked={fi.fastSampling} onChange={(e) => setFreeInit({ fastSampling: e.target.checked })} /> Fast sampling
          </label>
          <div>
            <label htmlFor={`${id}-fispatial`}>Spatial stop</label>
            <input id={`${id}-fispatial`} type="number" min={0} max={1} step={0.05} value={fi.spatialStopFrequency}
              onChange={(e) => setFreeInit({ spatialStopFrequency: Math.min(1, Math.max(0, Number(e.target.value) || 0)) })} />
          </div>
          <div>
            <label htmlFor={`${id}-fitemporal`}>Temporal stop</label>
            <input id={`${id}-fitemporal`} type="number" min={0} max={1} step={0.05} value={fi.temporalStopFrequency}
              onChange={(e) => setFreeInit({ temporalStopFrequency: Math.min(1, Math.max(0, Number(e.target.value) || 0)) })} />
          </div>
          <div>
            <label htmlFor={`${id}-fiorder`}>Order</label>
            <input id={`${id}-fiorder`} type="number" min={1} max={LIMITS.freeInitOrder.max} step={1} value={fi.order} disabled={fi.method !== 'butterworth'}
              onChange={(e) => setFreeInit({ order: clampInt(Number(e.target.value), 1, LIMITS.freeInitOrder.max) })} />
          </div>
        </div>
      )}
    </>
  );
}
