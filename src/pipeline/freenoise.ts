// FreeNoise (diffusers v0.39.0 `enable_free_noise`; oracle README "freenoise_tiny"): the pure parts.
//
// Windows (models/attention.py:1504-1510, 1580-1589): [i, i+L) for i in range(0, F-L+1, S); when the last one ends
// at e < F, the tail window [F-L, F) is appended, of which only the last m = F - e frames are accumulated.
// Weights (attention.py:1512-1542): flat = 1; pyramid, even L: [1..L/2, L/2..1]; odd L: [1..(L-1)/2, (L+1)/2, (L-1)/2..1].
// Blend (attention.py:1591-1665): acc[f] += w[j]·h_win[j], n[f] += w[j] per window frame j (f = start + j);
// blended = acc / n. The tail window adds w[L-m+k] to acc but the single scalar w[L-m] to n for all m frames
// (1636-1640) — so with pyramid weights the tail frames' coefficients do not sum to 1 (diffusers' quirk, kept).
// Here the division is folded into per-window coefficients c[j] = w[j] / n[start + j] (one pass per window).
//
// Noise (pipelines/free_noise_utils.py:356-428, shuffle_context): raw = randn(b, c, F, h, w); for i in range(L, F, S):
//   src = [i-L, min(F, i-L+S)),  perm = randperm(|src|),  dst = [i, min(F, i+|src|)),
//   lat[:, :, dst] = lat[:, :, (src[0] + perm)[:|dst|]]     (gathered before writing; later entries read earlier copies)
import { freeNoiseWords, initialNoise } from './rng';

export type FreeNoiseWeighting = 'pyramid' | 'flat';

export interface FreeNoiseOptions {
  /** Context length L: frames per temporal-attention window (diffusers context_length). */
  length: number;
  /** Context stride S: frames between window starts (diffusers context_stride). */
  stride: number;
  weighting: FreeNoiseWeighting;
}

/** One temporal-attention window of the FreeNoise schedule. */
export interface FreeNoiseWindow {
  /** First frame; the window covers [start, start + L). */
  start: number;
  /** First window-relative frame that is accumulated: 0, or L - m for the tail window. */
  from: number;
  /** Per window frame j < L: its weight in the blend, w[j] / n[start + j] (0 for j < from). */
  coefficients: number[];
}

export interface FreeNoiseSchedule {
  frames: number;
  length: number;
  /** Windows in diffusers' order (regular ones by start, then the tail window if any). */
  windows: FreeNoiseWindow[];
  /** The window weights w (length L). */
  weights: number[];
  /** n[f]: the accumulated normaliser per frame (float32 in diffusers, exact small integers/sums here). */
  normaliser: number[];
}

/** A FreeNoise setting that cannot run (names the option). */
export class FreeNoiseOptionsError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'FreeNoiseOptionsError';
  }
}

/** diffusers `_get_frame_weights` for `pyramid` and `flat` (attention.py:1512-1542). */
export function frameWeights(length: number, weighting: FreeNoiseWeighting): number[] {
  if (!Number.isInteger(length) || length < 1) throw new FreeNoiseOptionsError(`FreeNoise context length ${length} must be a positive integer`);
  if (weighting === 'flat') return new Array(length).fill(1);
  if (weighting !== 'pyramid') throw new FreeNoiseOptionsError(`FreeNoise weighting "${weighting}" must be "pyramid" or "flat"`);
  if (length % 2 === 0) {
    const half = Array.from({ length: length / 2 }, (_, i) => i + 1);
    return [...half, ...half.slice().reverse()];
  }
  const mid = (length + 1) / 2;
  const half = Array.from({ length: mid - 1 }, (_, i) => i + 1);
  return [...half, mid, ...half.slice().reverse()];
}

/** Checks shared by the schedule and the noise: integers, 1 ≤ S ≤ L ≤ F (S > L would leave frames in no window). */
export function checkFreeNoiseOptions(frames: number, o: FreeNoiseOptions): void {
  if (!Number.isInteger(frames) || frames < 1) throw new FreeNoiseOptionsError(`frames ${frames} must be a positive integer`);
  if (!Number.isInteger(o.length) || o.length < 1) throw new FreeNoiseOptionsError(`FreeNoise context length ${o.length} must be a positive integer`);
  if (!Number.isInteger(o.stride) || o.stride < 1) throw new FreeNoiseOptionsError(`FreeNoise context stride ${o.stride} must be a positive integer`);
  if (o.length > frames) throw new FreeNoiseOptionsError(`FreeNoise context length ${o.length} exceeds the ${frames} frames (diffusers needs frames ≥ context length)`);
  if (o.stride > o.length) throw new FreeNoiseOptionsError(`FreeNoise context stride ${o.stride} exceeds the context length ${o.length}: frames between windows would get no temporal attention`);
  frameWeights(o.length, o.weighting);
}

/** The windows, weights, normaliser and blend coefficients diffusers' FreeNoiseTransformerBlock uses for F frames. */
export function freeNoiseSchedule(frames: number, o: FreeNoiseOptions): FreeNoiseSchedule {
  checkFreeNoiseOptions(frames, o);
  const L = o.length;
  const w = frameWeights(L, o.weighting);
  const raw: { start: number; from: number; valueWeights: number[] }[] = [];
  for (let i = 0; i <= frames - L; i += o.stride) raw.push({ start: i, from: 0, valueWeights: w });
  const lastEnd = raw[raw.length - 1].start + L;
  // n is a float32 tensor upstream; its entries are sums of small integers (or of 1s): exact either way.
  const n = new Array<number>(frames).fill(0);
  for (const r of raw) for (let j = 0; j < L; j++) n[r.start + j] += w[j];
  if (lastEnd < frames) {
    const m = frames - lastEnd;
    raw.push({ start: frames - L, from: L - m, valueWeights: w });
    for (let k = 0; k < m; k++) n[lastEnd + k] += w[L - m]; // the scalar w[-m] for every tail frame (the quirk)
  }
  const windows = raw.map(({ start, from, valueWeights }) => ({
    start, from, coefficients: valueWeights.map((v, j) => (j < from ? 0 : v / n[start + j])),
  }));
  return { frames, length: L, windows, weights: w, normaliser: n };
}

/** One entry of the shuffle loop: frames [target, target + count) get source frames source + perm[k]. */
export interface ShuffleStep {
  /** diffusers' loop variable i (= target). */
  i: number;
  /** First source frame (window_start = i - L). */
  source: number;
  /** randperm size (window_length). */
  permSize: number;
  /** First target frame. */
  target: number;
  /** Frames written: min(F, i + permSize) - i (< permSize: a partial final step). */
  count: number;
}

/** The shuffle loop of `_prepare_latents_free_noise` (free_noise_utils.py:400-426) for F frames. */
export function shuffleSchedule(frames: number, o: Pick<FreeNoiseOptions, 'length' | 'stride'>): ShuffleStep[] {
  checkFreeNoiseOptions(frames, { ...o, weighting: 'flat' });
  const steps: ShuffleStep[] = [];
  for (let i = o.length; i < frames; i += o.stride) {
    const source = Math.max(0, i - o.length);
    const permSize = Math.min(frames, source + o.stride) - source;
    if (permSize === 0) break;
    steps.push({ i, source, permSize, target: i, count: Math.min(frames, i + permSize) - i });
  }
  return steps;
}

/**
 * Apply the shuffle to noise (b, c, F, h, w) (a copy; `plane` = h·w values per frame), with `perms[k]` the
 * permutation of step k (a permutation of 0..permSize-1, in draw order).
 */
export function shuffleFrames(noise: Float32Array, batchChannels: number, frames: number, plane: number, steps: readonly ShuffleStep[], perms: readonly ArrayLike<number>[]): Float32Array {
  if (noise.length !== batchChannels * frames * plane) throw new FreeNoiseOptionsError(`noise has ${noise.length} values, expected ${batchChannels}×${frames}×${plane}`);
  if (perms.length !== steps.length) throw new FreeNoiseOptionsError(`${perms.length} permutations for ${steps.length} shuffle steps`);
  const out = noise.slice();
  for (const [k, s] of steps.entries()) {
    const perm = perms[k];
    if (perm.length !== s.permSize || !isPermutation(perm)) throw new FreeNoiseOptionsError(`permutation ${k} is not a permutation of 0..${s.permSize - 1}`);
    for (let bc = 0; bc < batchChannels; bc++) {
      const base = bc * frames * plane;
      // Gather every source frame first (torch's advanced indexing copies the right-hand side), then write.
      const gathered = new Float32Array(s.count * plane);
      for (let j = 0; j < s.count; j++) gathered.set(out.subarray(base + (s.source + perm[j]) * plane, base + (s.source + perm[j] + 1) * plane), j * plane);
      out.set(gathered, base + s.target * plane);
    }
  }
  return out;
}

function isPermutation(p: ArrayLike<number>): boolean {
  const seen = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (!Number.isInteger(v) || v < 0 || v >= p.length || seen[v]) return false;
    seen[v] = 1;
  }
  return true;
}

/**
 * Seeded permutations for the shuffle from the project's counter-based RNG (rng.ts `freeNoiseWords`, a stream of its
 * own), U_k = its k-th word in draw order. Fisher–Yates: for i = n-1 … 1, j = floor(U · (i+1) / 2^32) (exact in
 * float64), swap p[i], p[j]. Not torch.randperm: a PyTorch seed does not reproduce PyTorch's shuffle (nor its noise).
 */
export function seededPermutations(seed: number, steps: readonly ShuffleStep[]): Int32Array[] {
  const word = freeNoiseWords(seed);
  let k = 0;
  const draw = () => word(k++);
  return steps.map(({ permSize }) => {
    const p = Int32Array.from({ length: permSize }, (_, i) => i);
    for (let i = permSize - 1; i > 0; i--) {
      const j = Math.floor((draw() * (i + 1)) / 4294967296);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  });
}

/**
 * FreeNoise's shuffle_context initial noise for a seed, (1, c, F, h, w): the seed's unit-normal noise
 * (rng.ts `initialNoise`) with frames ≥ L overwritten by shuffled copies (seeded permutations).
 * Multiply by the scheduler's init_noise_sigma as for plain noise.
 */
export function freeNoiseInitialNoise(seed: number, channels: number, frames: number, h: number, w: number, o: Pick<FreeNoiseOptions, 'length' | 'stride'>): Float32Array {
  const steps = shuffleSchedule(frames, o);
  return shuffleFrames(initialNoise(seed, channels, frames, h, w), channels, frames, h * w, steps, seededPermutations(seed, steps));
}
