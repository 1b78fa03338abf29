// `npm run bench [-- --full] [--filter <substr>] [--precision f32|f16|auto] [--browser [--timeout <minutes>]]`
// Node: runs every bench/cases/*.ts factory on WebGPU through Dawn (src/platform/node-gpu.ts).
// --browser: serves the repo with vite and runs the same cases in headless Chromium on navigator.gpu
// (needed for onnxruntime-web's WebGPU EP), then prints the rows the page hands back.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseFactory, ManifestSource } from './harness';
import { formatTable, type Header, type Row, runSuite } from './suite';

interface Args { full: boolean; filter?: string; precision: 'auto' | 'f16' | 'f32'; browser: boolean; timeoutMinutes?: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { full: false, precision: 'auto', browser: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--') continue;
    else if (x === '--full') a.full = true;
    else if (x === '--browser') a.browser = true;
    else if (x === '--filter') a.filter = argv[++i];
    else if (x === '--timeout') {
      const t = Number(argv[++i]);
      if (!(t > 0)) throw new Error(`--timeout needs a positive number of minutes, not ${argv[i]}`);
      a.timeoutMinutes = t;
    }
    else if (x === '--precision') {
      const p = argv[++i];
      if (p !== 'auto' && p !== 'f16' && p !== 'f32') throw new Error(`--precision must be f32, f16 or auto, not ${p}`);
      a.precision = p;
    } else throw new Error(`unknown argument ${x}; usage: npm run bench -- [--full] [--filter <substr>] [--precision f32|f16|auto] [--browser [--timeout <minutes>]]`);
  }
  if (a.filter === undefined && argv.includes('--filter')) throw new Error('--filter needs a value');
  return a;
}

const benchDir = dirname(fileURLToPath(import.meta.url));
/** The oracle folder (README: ../shared/oracle beside the repository); ADW_ORACLE names another place. */
const oracleDir = process.env.ADW_ORACLE ?? resolve(benchDir, '../../shared/oracle');
const manifestsDir = join(oracleDir, 'manifests');
const readManifest: ManifestSource = async (file) => JSON.parse(readFileSync(join(manifestsDir, file), 'utf8'));

async function loadFactories(): Promise<{ file: string; cases: CaseFactory }[]> {
  const dir = join(benchDir, 'cases');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
  const out: { file: string; cases: CaseFactory }[] = [];
  for (const file of files) {
    try {
      const mod = await import(/* @vite-ignore */ join(dir, file));
      if (typeof mod.cases !== 'function') throw new Error('exports no `cases` factory');
      out.push({ file, cases: mod.cases as CaseFactory });
    } catch (err) {
      const msg = (err as Error).message?.split('\n')[0];
      out.push({ file, cases: () => { throw new Error(`import failed: ${msg}`); } });
    }
  }
  return out;
}

async function runNode(args: Args): Promise<{ header: Header; rows: Row[]; tracked?: string }> {
  const { createNodeEngine } = await import('../src/platform/node-gpu');
  const e = await createNodeEngine({ precision: args.precision });
  const header: Header = {
    adapter: e.adapterName, dtype: e.dtype, date: new Date().toISOString(), full: args.full,
    runtime: `Node ${process.version}, Dawn (webgpu npm)${process.env.VK_ICD_FILENAMES ? `, ICD ${process.env.VK_ICD_FILENAMES}` : ''}`,
  };
  console.error(`bench: ${header.adapter} (${e.dtype})`);
  const rows = await runSuite(e, await loadFactories(), {
    full: args.full, filter: args.filter, manifests: readManifest,
    onRow: (r) => console.error(`  ${r.name}: ${r.error ?? `${r.oursMs?.toFixed(3)} ms (plain ${r.plainMs?.toFixed(3) ?? '-'} ms)`}`),
  });
  let tracked: string | undefined;
  if (!args.filter || 'memory planner'.includes(args.filter)) {
    const { trackedPeakReport } = await import('./memory');
    tracked = await trackedPeakReport(e, join(oracleDir, 'vectors')).catch((err) => `(tracked peak: ${(err as Error).message})`);
  }
  e.destroy();
  return { header, rows, tracked };
}

async function runBrowser(args: Args): Promise<{ header: Header; rows: Row[] }> {
  const { runInChromium } = await import('./browser-host');
  return runInChromium(resolve(benchDir, '..'), manifestsDir, args);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { header, rows, tracked } = args.browser ? { ...(await runBrowser(args)), tracked: undefined } : await runNode(args);
  console.log(formatTable(header, rows));
  if (rows.length === 0) console.log(`\n(no case matched${args.filter ? ` --filter ${args.filter}` : ''})`);
  if (!args.filter || 'memory planner'.includes(args.filter)) {
    // The planner's peaks of the full-size models (bench/memory.ts): the same on any adapter, so printed once.
    const { memoryReport } = await import('./memory');
    console.log(`\n### Memory planner: 16 frames at 512², CFG on (SD1.5 + motion module + VAE + text encoder)\n`);
    console.log(await memoryReport(manifestsDir, (s) => console.error(s)));
    if (tracked) console.log(`\n### Engine's tracked peak against the planner (this adapter)\n\n${tracked}`);
  }
}

// Top-level await: vite-node closes its module server once this module has finished evaluating.
try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
}
