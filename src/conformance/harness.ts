// The conformance harness core: run one oracle vector folder through the project and compare every output.
// No Node APIs here: files come through an injected FolderReader, weights through an injected loader
// (scripts/conformance.ts wires both for Node; tests do the same).
import type { Engine } from '../gpu/engine';
import { matmul } from '../ops/matmul';
import { compare, toleranceFor } from './compare';
import {
  type CanonicalWeights, ConformanceError, type FolderReader, type RunnerModule, type RunOutputs, type Semantics,
  type SetRunner, type VectorConfig, type WeightLayout,
} from './registry';
import { parseTensorFile, type RefTensor } from './tensor-file';
import { loadCanonicalWeights } from './weights';

export interface HarnessOptions {
  engine: Engine;
  files: FolderReader;
  /** Load weight files (paths relative to the folder) as one canonical map. Default: src/weights (weights.ts). */
  loadWeights?(files: FolderReader, paths: string[]): Promise<CanonicalWeights>;
  /** Default: every module in src/conformance/sets/. */
  runners?: SetRunner[];
  /** One call per report line. */
  log(line: string): void;
}

export interface ResultLine {
  name: string;
  layout: string;
  /** The mode the run used; 'both' when every output of the folder is semantics-free. */
  semantics: Semantics | 'both';
  status: 'PASS' | 'FAIL' | 'NOT COMPARED';
  maxAbs?: number;
  rel?: number;
  bound?: number;
  message?: string;
}

export interface HarnessResult {
  set: string;
  passed: number;
  failed: number;
  lines: ResultLine[];
}

/** All runner modules under ./sets (vite's import.meta.glob: works in vite, vitest and vite-node). */
export async function loadRunners(): Promise<SetRunner[]> {
  const mods = import.meta.glob<RunnerModule>('./sets/*.ts');
  const out: SetRunner[] = [];
  for (const [path, load] of Object.entries(mods)) {
    const m = await load();
    if (!m.runner) throw new ConformanceError(`${path} does not export \`runner\``);
    out.push(m.runner);
  }
  return out;
}

/** Read a folder's config: config.json, else the one JSON file that names its `set` (clip_tokenizer). */
export async function readConfig(files: FolderReader): Promise<VectorConfig> {
  const parse = async (f: string): Promise<VectorConfig> => {
    try {
      return JSON.parse(new TextDecoder().decode(await files.read(f)));
    } catch (e) {
      throw new ConformanceError(`${files.dir}/${f} is not valid JSON: ${(e as Error).message}`);
    }
  };
  if (await files.exists('config.json')) return parse('config.json');
  const names = await files.list();
  for (const f of names.filter((n) => n.endsWith('.json'))) {
    const c = await parse(f);
    if (typeof c.set === 'string') return c;
  }
  throw new ConformanceError(`${files.dir}: no config.json (and no other JSON file naming its "set"); files: ${names.join(', ') || 'none'}`);
}

function semanticsOf(name: string, table: Record<string, string> | undefined): 'diffusers' | 'official_animatediff' | 'both' {
  const s = table?.[name];
  if (s === 'diffusers' || s === 'official_animatediff' || s === 'both') return s;
  if (s !== undefined) throw new ConformanceError(`output_semantics.${name} is "${s}", not diffusers / official_animatediff / both`);
  return /_official|out_original/.test(name) ? 'official_animatediff' : 'both';
}

/**
 * The leak check counts pool buffers in use before and after each run. Some ops keep one-per-engine placeholder
 * buffers (the GEMM's binding for absent epilogue inputs), created on first use; one small GEMM before the
 * first count creates them so they are not reported as a leak.
 */
function warmUp(e: Engine): void {
  const a = e.upload(new Float32Array(4), [1, 1, 4]);
  matmul(e, a, a, { transB: true }).release();
  a.release();
}

const fmt = (x: number | undefined): string => (x === undefined ? '-' : x === Infinity ? 'inf' : x.toExponential(2));

export async function runConformance(opts: HarnessOptions): Promise<HarnessResult> {
  try {
    return await runFolder(opts);
  } finally {
    await opts.files.close?.();
  }
}

async function runFolder(opts: HarnessOptions): Promise<HarnessResult> {
  const { files, engine, log } = opts;
  const config = await readConfig(files);
  const runners = opts.runners ?? (await loadRunners());
  const runner = runners.find((r) => r.matches(config, files.dir));
  if (!runner) {
    throw new ConformanceError(`${files.dir}: unknown set "${config.set ?? '(config.json has no "set")'}": no runner matches (runners: ${runners.map((r) => r.name).join(', ')})`);
  }

  // References and their semantics.
  let refs: Map<string, RefTensor>;
  let semTable: Record<string, string> | undefined;
  if (runner.references) {
    const r = await runner.references(config, files);
    refs = r.outputs;
    semTable = r.semantics;
  } else {
    if (!(await files.exists('outputs.safetensors'))) throw new ConformanceError(`${files.dir}: outputs.safetensors is missing`);
    refs = parseTensorFile(await files.read('outputs.safetensors'), `${files.dir}/outputs.safetensors`);
    semTable = config.output_semantics;
  }
  let inputs = new Map<string, RefTensor>();
  if (runner.hasInputs !== false) {
    if (!(await files.exists('inputs.safetensors'))) throw new ConformanceError(`${files.dir}: inputs.safetensors is missing`);
    inputs = parseTensorFile(await files.read('inputs.safetensors'), `${files.dir}/inputs.safetensors`);
  }

  // Outputs to compare: every reference except the _f64 twins (used as the reference of their f32 name).
  const names = [...refs.keys()].filter((n) => !(n.endsWith('_f64') && refs.has(n.slice(0, -4))));
  if (!names.length) throw new ConformanceError(`${files.dir}: no reference outputs to compare`);
  const sem = new Map(names.map((n) => [n, semanticsOf(n, semTable)]));
  const modes: Semantics[] = (['diffusers', 'official_animatediff'] as const).filter((m) => [...sem.values()].includes(m));
  const onlyBoth = !modes.length;
  if (onlyBoth) modes.push('diffusers'); // only "both" outputs: either mode holds
  const skip = runner.notProduced?.(config) ?? [];

  const layouts: WeightLayout[] = await runner.layouts(config, files);
  warmUp(engine);
  const lines: ResultLine[] = [];
  const emit = (l: ResultLine) => {
    lines.push(l);
    const head = `${l.status.padEnd(4)} ${l.name}  [${l.layout}, ${l.semantics}]`;
    if (l.message) log(`${head}  ${l.message}`);
    else log(`${head}  max_abs=${fmt(l.maxAbs)} rel=${fmt(l.rel)} tol=${fmt(l.bound)}`);
  };

  const loadWeights = (paths: string[]) => (opts.loadWeights ?? loadCanonicalWeights)(files, paths);
  for (const [li, layout] of layouts.entries()) {
    if (li > 0 && runner.outputsDependOnlyOnCanonicalWeights) {
      const weightsOf = (l: WeightLayout) => runner.layoutWeights?.(l, loadWeights, files, names) ?? loadWeights(l.files);
      const same = await identicalWeights(weightsOf, layouts[0], layout);
      emit({ name: '(canonical weights)', layout: layout.name, semantics: onlyBoth ? 'both' : modes[0], status: same.identical ? 'PASS' : 'FAIL',
        message: same.identical ? `${same.count} tensors bit-identical to layout ${layouts[0].name}: its outputs hold for this layout` : same.message });
      if (same.identical) continue;
    }
    for (const [mi, mode] of modes.entries()) {
      const wanted = names.filter((n) => sem.get(n) === mode || (sem.get(n) === 'both' && mi === 0));
      if (!wanted.length) continue;
      const label = onlyBoth ? 'both' : mode;
      let produced: RunOutputs;
      const before = engine.pool.stats().buffersInUse;
      try {
        produced = await runner.run({
          dir: files.dir, config, inputs, references: refs, wanted, engine, files, layout, semantics: mode,
          loadWeights,
        });
      } catch (e) {
        emit({ name: `(run ${runner.name})`, layout: layout.name, semantics: label, status: 'FAIL', message: `run failed: ${(e as Error).stack ?? e}` });
        continue;
      }
      const leaked = engine.pool.stats().buffersInUse - before;
      if (leaked > 0) {
        emit({ name: `(run ${runner.name})`, layout: layout.name, semantics: label, status: 'FAIL', message: `${leaked} GPU buffers still in use after the run (leak)` });
      }
      for (const name of wanted) {
        const got = produced.get(name);
        if (!got) {
          if (skip.some((re) => re.test(name))) {
            emit({ name, layout: layout.name, semantics: label, status: 'NOT COMPARED', message: 'not computed by this runner' });
          } else {
            emit({ name, layout: layout.name, semantics: label, status: 'FAIL', message: 'not produced by the runner' });
          }
          continue;
        }
        const f32 = refs.get(name)!;
        const ref = refs.get(`${name}_f64`) ?? f32;
        if (got.length !== ref.data.length) {
          emit({ name, layout: layout.name, semantics: label, status: 'FAIL', message: `produced ${got.length} values, reference ${JSON.stringify(ref.shape)} has ${ref.data.length}` });
          continue;
        }
        const c = compare(got, ref.data, toleranceFor(config, name, f32.dtype, engine.dtype));
        emit({ name, layout: layout.name, semantics: label, status: c.pass ? 'PASS' : 'FAIL', maxAbs: c.maxAbs, rel: c.rel, bound: c.bound });
      }
    }
  }
  const passed = lines.filter((l) => l.status === 'PASS').length;
  const failed = lines.filter((l) => l.status === 'FAIL').length;
  log(`${passed} passed, ${failed} failed`);
  return { set: runner.name, passed, failed, lines };
}

/** Whether two layouts load to the same canonical tensors (names, shapes and every value). */
async function identicalWeights(
  weightsOf: (l: WeightLayout) => Promise<CanonicalWeights>, a: WeightLayout, b: WeightLayout,
): Promise<{ identical: boolean; count: number; message?: string }> {
  const [wa, wb] = await Promise.all([weightsOf(a), weightsOf(b)]);
  const na = [...wa.names()].sort(), nb = [...wb.names()].sort();
  if (na.join('\n') !== nb.join('\n')) {
    const missing = na.filter((n) => !wb.has(n)).slice(0, 3), extra = nb.filter((n) => !wa.has(n)).slice(0, 3);
    return { identical: false, count: 0, message: `canonical names differ from layout ${a.name} (missing: ${missing.join(', ') || '-'}; extra: ${extra.join(', ') || '-'})` };
  }
  for (const n of na) {
    if (wa.shape(n).join(',') !== wb.shape(n).join(',')) return { identical: false, count: 0, message: `${n}: shape ${wb.shape(n)} vs ${wa.shape(n)} in layout ${a.name}` };
    const [x, y] = await Promise.all([wa.read(n), wb.read(n)]);
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) return { identical: false, count: 0, message: `${n}[${i}] = ${y[i]} vs ${x[i]} in layout ${a.name}` };
    }
  }
  return { identical: true, count: na.length };
}
