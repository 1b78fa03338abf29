import { useEffect, useId, useRef, useState } from 'react';

export interface FrameSet {
  /** RGBA frames, width × height × 4 bytes each; undefined = not decoded yet. */
  frames: (Uint8ClampedArray | undefined)[];
  width: number;
  height: number;
}

export interface ViewerProps {
  /** Final frames (some may still be decoding) or null. */
  result: FrameSet | null;
  /** The live x0 preview while sampling (shown when there is no result yet). */
  preview: (FrameSet & { step: number }) | null;
  /** True while frames are still arriving: the viewer shows the newest one instead of playing. */
  streaming: boolean;
  /** Bumped whenever `result` or `preview` gained frames (they are mutated in place for speed). */
  version: number;
  fps: number;
  onFps(v: number): void;
  loop: boolean;
  onLoop(v: boolean): void;
  /** Reports the frame on screen (for "export current frame"). */
  onFrameShown?(index: number): void;
}

/**
 * The animation canvas. Frames are drawn with 2D putImageData (WebGPU canvases are not used: the worker owns the
 * GPU, and headless test browsers cannot present WebGPU canvases). The canvas keeps the frames' own resolution;
 * CSS scales it to the available space.
 */
export function Viewer({ result, preview, streaming, version, fps, onFps, loop, onLoop, onFrameShown }: ViewerProps) {
  const id = useId();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [playing, setPlaying] = useState(true);
  const [index, setIndex] = useState(0);
  const showing: 'result' | 'preview' | 'empty' = result ? 'result' : preview ? 'preview' : 'empty';
  const set = result ?? preview;
  const available = set ? set.frames.filter(Boolean).length : 0;
  const count = set?.frames.length ?? 0;

  // While frames stream in, follow the newest one.
  useEffect(() => {
    if (result && streaming) {
      let newest = -1;
      result.frames.forEach((f, i) => { if (f) newest = i; });
      if (newest >= 0) setIndex(newest);
    }
  }, [result, streaming, version]);

  // Playback: step through the available frames at `fps`; without loop, stop at the last frame.
  useEffect(() => {
    if (!set || streaming && showing === 'result' || !playing || available < 2) return;
    const timer = setInterval(() => {
      setIndex((i) => {
        const next = i + 1;
        if (next < count && set.frames[next]) return next;
        if (!loop && showing === 'result') {
          setPlaying(false);
          return i;
        }
        return 0;
      });
    }, 1000 / Math.max(1, fps));
    return () => clearInterval(timer);
  }, [set, streaming, showing, playing, available, count, fps, loop]);

  // A new generation starts at frame 0 and plays.
  useEffect(() => {
    setIndex(0);
    setPlaying(true);
  }, [result?.frames, preview === null]);

  // Draw the current frame.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    if (!set) {
      canvas.width = 512;
      canvas.height = 512;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      canvas.dataset.frame = '';
      return;
    }
    const i = Math.min(index, count - 1);
    const frame = set.frames[i] ?? set.frames.find(Boolean);
    if (canvas.width !== set.width) canvas.width = set.width;
    if (canvas.height !== set.height) canvas.height = set.height;
    if (frame) {
      ctx.putImageData(new ImageData(frame as Uint8ClampedArray<ArrayBuffer>, set.width, set.height), 0, 0);
      canvas.dataset.frame = String(set.frames.indexOf(frame));
      onFrameShown?.(set.frames.indexOf(frame));
    }
  }, [set, index, count, version, onFrameShown]);

  // Small results keep crisp pixels; the latent-resolution preview is smoothed (it is a rough impression).
  const small = showing === 'result' && set ? Math.max(set.width, set.height) <= 128 : false;
  return (
    <div className="viewer">
      <div className="stage">
        <canvas
          ref={canvasRef}
          className={`${small ? 'pixelated' : ''} ${showing}`}
          aria-label={showing === 'preview' ? `Preview of the predicted result at step ${preview!.step}` : 'Animation'}
          role="img"
          data-showing={showing}
          data-available={available}
        />
        {showing === 'empty' && <p className="stage-empty">Your animation appears here.</p>}
        {showing === 'preview' && <span className="badge">Preview · step {preview!.step}</span>}
      </div>
      <div className="playback" role="group" aria-label="Playback">
        <button type="button" onClick={() => setPlaying((p) => !p)} disabled={showing !== 'result' || streaming || available < 2}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <label htmlFor={`${id}-frame`} className="visually-hidden">Frame</label>
        <input
          id={`${id}-frame`}
          type="range"
          min={0}
          max={Math.max(0, count - 1)}
          step={1}
          value={Math.min(index, Math.max(0, count - 1))}
          onChange={(e) => {
            setPlaying(false);
            setIndex(Number(e.target.value));
          }}
          disabled={showing !== 'result' || streaming}
        />
        <span className="frame-counter" aria-live="off">{count ? `${Math.min(index, count - 1) + 1} / ${count}` : '– / –'}</span>
        <label htmlFor={`${id}-fps`}>FPS</label>
        <input id={`${id}-fps`} className="fps" type="number" min={1} max={30} step={1} value={fps} onChange={(e) => onFps(Math.min(30, Math.max(1, Number(e.target.value) || 1)))} />
        <label className="check">
          <input type="checkbox" checked={loop} onChange={(e) => onLoop(e.target.checked)} /> Loop
        </label>
      </div>
    </div>
  );
}
