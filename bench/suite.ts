// Runs benchmark case factories on one engine and formats the result table. Shared by the Node
// runner (bench/run.ts) and the browser page (bench/browser.ts); no Node or DOM APIs here.
import type { Engine } from '../src/gpu/engine';
import { type BenchCase, type CaseFactory, type ManifestSource, measure } from './harness';

/**
 * A case that is an external baseline (e.g. onnxruntime-web) for one of our cases: `versus` names
 * our case; the table then prints our time over theirs. Cases may set it; known ones are mapped here.
 */
export type VersusCase = BenchCase & { versus?: string };

const KNOWN_BASELINES: [RegExp, string][] = [
  // bench/cases/ort.ts: the ONNX graph of exactly the work of our fused temporalAttention.
  [/^ORT-web temporal attention core\b/, 'temporal attention (motion module)'],
];

const versusOf = (c: VersusCase): string | undefined => c.versus ?? KNOWN_BASELINES.find(([re]) => re.test(c.name))?.[1];

export interface SuiteOptions {
  full: boolean;
  manifests: ManifestSource;
  filter?: string;
  reps?: number;
  /** Called after each row (progress output). */
  onRow?: (row: Row) => void;
}

export interface Row {
  file: string;
  name: string;
  shape: string;
  oursMs?: number;
  /** Wall-clock median of ours (equals oursMs when wall-timed). */
  oursWallMs?: number;
  /** "12.3 GFLOP/s" or "4.5 GB/s" (both when the case gives both). */
  rate?: string;
  plainName?: string;
  plainMs?: number;
  /** plain ms / ours ms: > 1 means ours is faster. */
  ratio?: number;
  /** How each side was timed: GPU timestamp queries or wall clock. */
  timing?: 'gpu' | 'wall';
  plainTiming?: 'gpu' | 'wall';
  /** This row is an external baseline for our case of this name. */
  versus?: string;
  /** Timed runs after the warm-up (the median is reported). */
  runs?: number;
  error?: string;
}

/** The harness's default number of timed runs (bench/harness.ts `measure`). */
const DEFAULT_RUNS = 3;

export interface Header {
  adapter: string;
  dtype: string;
  date: string;
  full: boolean;
  runtime: string;
}

const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0].slice(0, 200);

/** Run every case of every factory whose name (or file) contains `filter`. Failures become rows. */
export async function runSuite(e: Engine, factories: { file: string; cases: CaseFactory }[], opts: SuiteOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const push = (r: Row) => { rows.push(r); opts.onRow?.(r); };
  for (const { file, cases } of factories) {
    let list;
    try {
      list = await cases(e, { full: opts.full, manifests: opts.manifests });
    } catch (err) {
      push({ file, name: `(${file} failed to build its cases)`, shape: '', error: errText(err) });
      continue;
    }
    for (const c of list) {
      if (opts.filter && !`${file} ${c.name}`.toLowerCase().includes(opts.filter.toLowerCase())) { c.dispose(); continue; }
      const row: Row = { file, name: c.name, shape: c.shape, versus: versusOf(c), runs: c.reps ?? opts.reps ?? DEFAULT_RUNS };
      try {
        await c.setup?.();
        const ours = await measure(e, c.run, c.reps ?? opts.reps);
        row.oursMs = ours.ms;
        row.oursWallMs = ours.wallMs;
        row.timing = ours.gpu ? 'gpu' : 'wall';
        const rates: string[] = [];
        if (c.flops) rates.push(`${(c.flops / ours.ms / 1e6).toFixed(2)} GFLOP/s`);
        if (c.bytes) rates.push(`${(c.bytes / ours.ms / 1e6).toFixed(2)} GB/s`);
        row.rate = rates.join(', ');
        if (c.plain) {
          row.plainName = c.plain.name;
          const plain = await measure(e, c.plain.run, c.reps ?? opts.reps);
          row.plainMs = plain.ms;
          row.plainTiming = plain.gpu ? 'gpu' : 'wall';
          row.ratio = plain.ms / ours.ms;
        }
      } catch (err) {
        row.error = errText(err);
      } finally {
        c.dispose();
      }
      push(row);
    }
  }
  return rows;
}

/** "gpu", "wall", or "gpu / wall" when ours and plain were timed differently (e.g. an onnxruntime-web baseline). */
const timingText = (r: Row) => {
  const how = r.plainTiming && r.plainTiming !== r.timing ? `${r.timing} / ${r.plainTiming}` : r.timing ?? '';
  // A row timed another number of times than the header's says so (one run of a minutes-long baseline is no median).
  return r.runs !== undefined && r.runs !== DEFAULT_RUNS ? `${how}, ${r.runs === 1 ? '1 run' : `median of ${r.runs}`}` : how;
};

const ms = (x?: number) => (x === undefined ? '' : x < 10 ? x.toFixed(3) : x.toFixed(1));

/** A Markdown table (also readable as plain text) with a header block naming the adapter. */
export function formatTable(h: Header, rows: Row[]): string {
  const lines = [
    `adapter: ${h.adapter}`,
    `runtime: ${h.runtime}, dtype: ${h.dtype}, date: ${h.date}`,
    `shapes: ${h.full ? 'real SD1.5 (--full)' : 'scaled down where marked (software adapter); run with --full on a real GPU'}`,
    `timing: one warm-up, then the median of ${DEFAULT_RUNS} timed runs unless the timing column names another count; "gpu" = sum of compute-pass timestamp queries, "wall" = wall clock incl. submit and sync (ours / plain when they differ)`,
    '',
    '| case | shape | ours ms | throughput | plain | plain ms | plain/ours | timing |',
    '|---|---|---:|---:|---|---:|---:|---|',
  ];
  for (const r of rows) {
    if (r.error) lines.push(`| ${r.name} | ${r.shape} | error: ${r.error.replace(/\|/g, '/')} | | | | | |`);
    else lines.push(`| ${r.name} | ${r.shape} | ${ms(r.oursMs)} | ${r.rate ?? ''} | ${r.plainName ?? ''} | ${ms(r.plainMs)} | ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`} | ${timingText(r)} |`);
  }
  const pairs = rows.filter((r) => r.versus && r.oursMs !== undefined)
    .map((r) => ({ theirs: r, ours: rows.find((o) => o.name === r.versus && o.oursMs !== undefined) }))
    .filter((x): x is { theirs: Row; ours: Row } => x.ours !== undefined);
  if (pairs.length) {
    // Compared like for like: wall against wall when the baseline is wall-timed (ORT's device is not ours).
    lines.push('', '| ours vs external baseline | ours ms | baseline | baseline ms | ours/baseline |', '|---|---:|---|---:|---:|');
    for (const { ours, theirs } of pairs) {
      const wall = theirs.timing === 'wall';
      const mine = wall ? ours.oursWallMs! : ours.oursMs!;
      lines.push(`| ${ours.name} | ${ms(mine)} (${wall ? 'wall' : ours.timing}) | ${theirs.name} | ${ms(theirs.oursMs)} (${theirs.timing}) | ${(mine / theirs.oursMs!).toFixed(2)} |`);
    }
  }
  return lines.join('\n');
}
