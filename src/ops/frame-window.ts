// Frame windows of [B*F, ...] activations (row b*F + f): FreeNoise runs the motion modules' temporal self-attention
// on windows of L frames and blends the window outputs back with per-frame coefficients (src/pipeline/freenoise.ts).
import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import type { Tensor } from '../gpu/tensor';
import windowWgsl from '../../shaders/frame_window.wgsl?raw';

const GATHER = kernel('frame_window_gather', windowWgsl, 'gather');
const ACCUMULATE = kernel('frame_window_accumulate', windowWgsl, 'accumulate');

/** Most frames in one window (coefficients travel in a 64-entry uniform array). */
export const MAX_WINDOW_FRAMES = 64;

function dims(op: string, x: Tensor, frames: number): { B: number; Q: number } {
  if (!Number.isInteger(frames) || frames < 1 || x.shape.length < 1 || x.shape[0] % frames !== 0) {
    throw new RangeError(`${op}: ${x} is not a whole number of ${frames}-frame samples along dim 0`);
  }
  return { B: x.shape[0] / frames, Q: x.size / x.shape[0] };
}

function params(Q: number, F: number, L: number, start: number, from: number, written: number, n: number, coef?: readonly number[]): ArrayBuffer {
  const p = new Params().u32(Q).u32(F).u32(L).u32(start).u32(from).u32(written).u32(n).u32(0);
  for (let j = 0; j < MAX_WINDOW_FRAMES; j++) p.f32(coef?.[j] ?? 0);
  return p.bytes();
}

/** Frames [start, start + count) of every sample: x [B*F, ...rest] → [B*count, ...rest]. */
export function gatherFrames(e: Engine, x: Tensor, frames: number, start: number, count: number): Tensor {
  const { B, Q } = dims('gatherFrames', x, frames);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > frames) {
    throw new RangeError(`gatherFrames: frames [${start}, ${start + count}) are not inside 0..${frames}`);
  }
  const out = e.empty([B * count, ...x.shape.slice(1)], x.dtype);
  e.dispatch({
    kernel: GATHER,
    dtype: x.dtype,
    bindings: [params(Q, frames, count, start, 0, 0, out.size), x, out],
    workgroups: e.grid(out.size, 256),
  });
  return out;
}

export interface AccumulateWindow {
  /** First frame of the window. */
  start: number;
  /** First window frame accumulated (frames start..start+from-1 are skipped). */
  from: number;
  /** c[j] per window frame (length = the window's frame count). */
  coefficients: readonly number[];
  /** Frames below this already hold a partial sum (added to); frames from it on are written fresh. */
  written: number;
}

/**
 * In place: acc[b, start + j] = c[j]·win[b, j] (+ acc[b, start + j] when start + j < written), for from ≤ j < L.
 * acc [B*F, ...rest], win [B*L, ...rest] with L = coefficients.length.
 */
export function accumulateFrames(e: Engine, acc: Tensor, win: Tensor, frames: number, w: AccumulateWindow): void {
  const { B, Q } = dims('accumulateFrames', acc, frames);
  const L = w.coefficients.length;
  if (L < 1 || L > MAX_WINDOW_FRAMES) throw new RangeError(`accumulateFrames: a window of ${L} frames (1..${MAX_WINDOW_FRAMES})`);
  if (win.dtype !== acc.dtype || win.size !== B * L * Q) throw new RangeError(`accumulateFrames: window ${win} is not ${B} samples × ${L} frames of ${acc}'s rows`);
  if (!Number.isInteger(w.start) || w.start < 0 || w.start + L > frames || !Number.isInteger(w.from) || w.from < 0 || w.from >= L) {
    throw new RangeError(`accumulateFrames: window [${w.start}, ${w.start + L}) from ${w.from} is not inside 0..${frames}`);
  }
  if (w.coefficients.some((c) => !Number.isFinite(c))) throw new RangeError('accumulateFrames: coefficients must be finite');
  const n = B * (L - w.from) * Q;
  e.dispatch({
    kernel: ACCUMULATE,
    dtype: acc.dtype,
    bindings: [params(Q, frames, L, w.start, w.from, Math.max(0, Math.min(w.written, frames)), n, w.coefficients), win, acc],
    workgroups: e.grid(n, 256),
  });
}
