// Comparison of a produced tensor with its reference at the oracle's tolerances.
//
// `recommended_tolerance_f32` gives per output { atol, rel_to_ref_max } (both 20x the observed f32-vs-f64
// error, README "Tolerances"). They are two statements of one budget, "atol ≈ 1e-4 or ≈ 2e-5 relative to the
// reference maximum": a tensor passes when   max|out - ref| <= max(atol, rel_to_ref_max * max|ref|).
// Outputs without an entry (float32 intermediates, scheduler tables) use the README's rules of thumb.
import type { VectorConfig } from './registry';

export interface Tolerance {
  atol: number;
  rel: number;
  /** Where the numbers came from, for the report. */
  source: string;
  /** Integer outputs (token ids, timesteps) must match exactly. */
  exact?: boolean;
}

export interface Comparison {
  maxAbs: number;
  refMax: number;
  /** maxAbs / refMax (0 when both are 0). */
  rel: number;
  /** The absolute bound applied: max(atol, rel * refMax), 0 for exact. */
  bound: number;
  pass: boolean;
  /** Index of the worst element (-1 when equal). */
  at: number;
}

type Entry = { atol: number; rel_to_ref_max: number };

/** Rules of thumb (README "Tolerances"): single modules ~1e-4 abs or 2e-5 relative; pipelines 5e-5 of the latent max. */
const SINGLE_MODULE: Tolerance = { atol: 1e-4, rel: 2e-5, source: 'rule of thumb (single module)' };
const PIPELINE: Tolerance = { atol: 1e-4, rel: 5e-5, source: 'rule of thumb (multi-step)' };

/**
 * The tolerance of output `name` in a folder's config: top-level `recommended_tolerance_f32[name]`, or for
 * per-run names `<run>.<rest>` the run's `runs[run].recommended_tolerance_f32` entry for `<rest>` or, failing that, for
 * the longest trailing part of `<rest>` made of whole dotted components.
 */
export function toleranceFor(config: VectorConfig, name: string, dtype: string, precision: 'f32' | 'f16' = 'f32'): Tolerance {
  const t = toleranceF32(config, name, dtype);
  // f16 compute (README "Tolerances"): ≈ 2e-2 relative to the reference maximum; indicative for multi-step runs.
  return precision === 'f16' && !t.exact ? { atol: t.atol, rel: Math.max(t.rel, F16_REL), source: `${t.source}, f16: rel ≥ ${F16_REL}` } : t;
}

/** README: "use ≈ 2e-2 relative for f16 single modules". */
export const F16_REL = 2e-2;

function toleranceF32(config: VectorConfig, name: string, dtype: string): Tolerance {
  if (dtype === 'I64' || dtype === 'I32') return { atol: 0, rel: 0, source: 'exact (integer)', exact: true };
  const top = config.recommended_tolerance_f32 as Record<string, Entry> | undefined;
  if (top?.[name]) return fromEntry(top[name], `recommended_tolerance_f32.${name}`);
  const dot = name.indexOf('.');
  const runs = config.runs as Record<string, { recommended_tolerance_f32?: Record<string, Entry> }> | undefined;
  if (dot > 0 && runs?.[name.slice(0, dot)]) {
    const run = name.slice(0, dot);
    const rest = name.slice(dot + 1);
    // An entry may name only the trailing dotted components of the output (freeinit_tiny's `iter1.latents_start`
    // is the tolerance of `<run>.free_init.iter1.latents_start`): the longest such suffix wins.
    const table = runs[run].recommended_tolerance_f32 ?? {};
    for (let key = rest; ; key = key.slice(key.indexOf('.') + 1)) {
      if (table[key]) return fromEntry(table[key], `runs.${run}.recommended_tolerance_f32.${key}`);
      if (!key.includes('.')) break;
    }
    return PIPELINE;
  }
  return SINGLE_MODULE;
}

function fromEntry(e: Entry, source: string): Tolerance {
  if (typeof e.atol !== 'number' || typeof e.rel_to_ref_max !== 'number') {
    throw new Error(`${source} must have numeric atol and rel_to_ref_max, got ${JSON.stringify(e)}`);
  }
  return { atol: e.atol, rel: e.rel_to_ref_max, source };
}

/** Max abs error of `out` against `ref` and the pass/fail verdict at `tol`. NaN/Inf in `out` fails. */
export function compare(out: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance): Comparison {
  if (out.length !== ref.length) throw new RangeError(`compare: ${out.length} values vs ${ref.length} in the reference`);
  let maxAbs = 0, refMax = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(out[i] - ref[i]);
    if (!(d <= maxAbs)) { maxAbs = d; at = i; } // NaN counts as the worst
    const r = Math.abs(ref[i]);
    if (r > refMax) refMax = r;
  }
  if (Number.isNaN(maxAbs)) maxAbs = Infinity;
  const rel = refMax > 0 ? maxAbs / refMax : maxAbs > 0 ? Infinity : 0;
  const bound = tol.exact ? 0 : Math.max(tol.atol, tol.rel * refMax);
  return { maxAbs, refMax, rel, bound, pass: maxAbs <= bound, at };
}
