import type { Engine } from '../src/gpu/engine';

/**
 * One benchmark case: `run` records the kernel's dispatches (the harness syncs and times it);
 * `plain`, when given, is the straightforward implementation of the same work measured in the same
 * run so the table can print a ratio. `flops`/`bytes` give GFLOP/s and GB/s.
 */
export interface BenchCase {
  name: string;
  /** Human-readable shape, e.g. "M=4096 N=320 K=320" and "(scaled down: software adapter)" where so. */
  shape: string;
  flops?: number;
  bytes?: number;
  run: () => void | Promise<void>;
  plain?: { name: string; run: () => void | Promise<void> };
  /** Timed runs after the warm-up when not the suite's default (3): e.g. 1 for a baseline that takes a minute per run. */
  reps?: number;
  /**
   * Untimed preparation, run just before the case is measured (after the filter): cases with large weights make
   * them here rather than in the factory, so only one case's weights are alive at a time. `dispose` must also
   * work when `setup` never ran (a filtered-out case).
   */
  setup?: () => Promise<void>;
  dispose: () => void;
}

/**
 * The full-size models' key → shape manifests (../shared/oracle/manifests, `{ config, tensors }` JSON) by file
 * name: read from disk in Node, fetched from the bench host in the browser. Rejects when they are not there.
 */
export type ManifestSource = (file: string) => Promise<{ config?: Record<string, any>; tensors: Record<string, { shape: number[] }> }>;

export interface CaseOptions {
  /** Real SD1.5 shapes (real GPU). */
  full: boolean;
  manifests: ManifestSource;
}

/** A module under bench/cases/ exports `cases(engine, { full, manifests })`. */
export type CaseFactory = (e: Engine, opts: CaseOptions) => BenchCase[] | Promise<BenchCase[]>;

/** `ms`: GPU time where timestamps exist, else wall; `wallMs`: wall-clock median (for comparisons with wall-timed baselines). */
export interface Timing { ms: number; gpu: boolean; wallMs: number }

/** Warm up once, then take the median of `reps` runs; GPU timestamps where available, else wall time. */
export async function measure(e: Engine, run: () => void | Promise<void>, reps = 3): Promise<Timing> {
  await e.time(run);
  const samples: number[] = [];
  const walls: number[] = [];
  let gpu = true;
  for (let i = 0; i < reps; i++) {
    const t = await e.time(run);
    if (t.gpuMs === null) gpu = false;
    samples.push(t.gpuMs ?? t.wallMs);
    walls.push(t.wallMs);
  }
  const median = (x: number[]) => x.sort((a, b) => a - b)[Math.floor(x.length / 2)];
  // Mixed samples (a timestamp missing in one rep) fall back to wall time throughout.
  return gpu ? { ms: median(samples), gpu, wallMs: median(walls) } : { ms: median(walls), gpu, wallMs: median(walls) };
}
