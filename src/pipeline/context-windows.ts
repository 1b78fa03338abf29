// Sliding context windows over the whole UNet, the "uniform" schedule of animatediff-cli (pipelines/context.py) as
// ComfyUI-AnimateDiff-Evolved keeps it (context.py: looped_uniform, standard_uniform). Each UNet call sees one
// window of `length` frames; a frame's prediction is the weighted mean over the windows that hold it:
//   ε[f] = Σ_w Σ_{i: win_w[i] = f} fuse[i] · ε_w[i]  /  Σ_w Σ_{i: win_w[i] = f} fuse[i]
//
// Schedule at sampling step s (o = ordered_halving(s) ∈ [0, 1): the bit-reversed step, so windows shift every step
// and seams never stay in place), for dilation levels c = 1, 2, 4, … 2^(min(stride, ⌈log2(F/L)⌉ + 1) − 1):
//   pad = round(F·o);  for j = ⌊o·c⌋ + pad; j < F + pad − (closed loop ? 0 : overlap); j += L·c − overlap:
//     window = [(j + i·c) mod F  for i < L]
// Closed loop: the windows wrap around the end (frame F−1 shares windows with frame 0). Otherwise (standard_uniform)
// a window that wraps is slid back to end at frame F−1, a window is inserted where that left a gap, and duplicate
// windows are dropped, and any frame still uncovered gets a contiguous window. F ≤ L: one window of all frames (the
// plain run). Unlike animatediff-cli, a dilation level whose windows span more than F frames is skipped, so no
// window holds a frame twice.
import type { UniformContext } from './spec';

/** animatediff-cli's ordered_halving: the 64-bit bit-reversal of `step`, divided by 2^64 (0, ½, ¼, ¾, ⅛, …). */
export function orderedHalving(step: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`orderedHalving: step ${step} must be a non-negative integer`);
  let v = 0;
  let scale = 0.5;
  for (let s = step; s > 0; s = Math.floor(s / 2), scale /= 2) if (s % 2 === 1) v += scale;
  return v;
}

/** Python's round(): halves go to the even neighbour (as the schedule's `pad` is computed). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Per-position weights of one window: flat = 1; pyramid = distance from the window's edge (FreeNoise's weighting). */
export function fuseWeights(length: number, fuse: UniformContext['fuse']): number[] {
  if (fuse === 'flat') return new Array(length).fill(1);
  const half = Math.floor(length / 2);
  if (length % 2 === 0) return [...Array(half).keys()].map((i) => i + 1).concat([...Array(half).keys()].map((i) => half - i));
  const peak = (length + 1) / 2;
  return [...Array(peak - 1).keys()].map((i) => i + 1).concat([peak], [...Array(peak - 1).keys()].map((i) => peak - 1 - i));
}

/** Frame indices of every window at sampling step `step` (see the file comment). */
export function uniformWindows(frames: number, ctx: Pick<UniformContext, 'length' | 'stride' | 'overlap' | 'closedLoop'>, step: number): number[][] {
  const F = frames;
  const { length: L, overlap, closedLoop } = ctx;
  if (!Number.isInteger(F) || F < 1) throw new RangeError(`uniformWindows: ${F} frames`);
  if (!(L >= 1 && overlap >= 0 && overlap < L && ctx.stride >= 1)) throw new RangeError(`uniformWindows: length ${L}, overlap ${overlap}, stride ${ctx.stride}`);
  if (F <= L) return [[...Array(F).keys()]];
  const o = orderedHalving(step);
  const levels = Math.min(ctx.stride, Math.ceil(Math.log2(F / L)) + 1);
  const windows: number[][] = [];
  for (let l = 0; l < levels; l++) {
    const c = 2 ** l;
    if ((L - 1) * c + 1 > F) break; // this level's windows would hold a frame twice (animatediff-cli allows it)
    const pad = roundHalfEven(F * o);
    const end = F + pad - (closedLoop ? 0 : overlap);
    for (let j = Math.floor(o * c) + pad; j < end; j += L * c - overlap) {
      windows.push([...Array(L).keys()].map((i) => (j + i * c) % F));
    }
  }
  return closedLoop ? windows : unroll(windows, F, L);
}

/** standard_uniform: windows that wrap are slid to end at frame F−1; gaps get a window; duplicates go. */
function unroll(windows: number[][], F: number, L: number): number[][] {
  const keep: boolean[] = [];
  for (let w = 0; w < windows.length; w++) {
    const win = windows[w];
    const roll = win.findIndex((v, i) => i > 0 && v < win[i - 1]);
    if (roll > 0) {
      const rollVal = win[roll];
      const start = win[0];
      const rel = win.map((v) => (v - start + F) % F);
      const delta = F - rel[rel.length - 1] - 1;
      windows[w] = rel.map((v) => v + delta);
      const next = windows[(w + 1) % windows.length];
      if (!next.includes(rollVal)) windows.splice(w + 1, 0, [...Array(L).keys()].map((i) => Math.min(rollVal, F - L) + i));
    }
    keep[w] = !windows.slice(0, w).some((p) => p.length === windows[w].length && p.every((v, i) => v === windows[w][i]));
  }
  const out = windows.filter((_, w) => keep[w]);
  // With several dilation levels the gap check above can look at another level's window and leave frames
  // uncovered (AnimateDiff-Evolved's standard_uniform does): cover each remaining gap with a contiguous window.
  const covered = new Uint8Array(F);
  for (const win of out) for (const f of win) covered[f] = 1;
  for (let f = covered.indexOf(0); f >= 0; f = covered.indexOf(0)) {
    const win = [...Array(L).keys()].map((i) => Math.min(f, F - L) + i);
    out.push(win);
    for (const g of win) covered[g] = 1;
  }
  return out;
}

/** Σ of the fuse weights each frame receives over `windows` (every entry must be > 0: every frame covered). */
export function coverage(frames: number, windows: readonly (readonly number[])[], fuse: UniformContext['fuse']): Float64Array {
  const n = new Float64Array(frames);
  for (const win of windows) {
    const wts = fuseWeights(win.length, fuse);
    win.forEach((f, i) => { n[f] += wts[i]; });
  }
  return n;
}
