// npm run conformance -- <vector folder> [--precision f32|f16]
// Runs one oracle vector folder (format: ../shared/oracle/README.md) through the project and prints one line per
// compared tensor, then "N passed, M failed". Exit code: 0 all passed, 1 a comparison failed (or nothing was
// compared), 2 the folder cannot be run (unknown set, missing or malformed files).
import { existsSync, statSync } from 'node:fs';
import { runConformance } from '../src/conformance/harness';
import { ConformanceError } from '../src/conformance/registry';
import { nodeFolderReader } from '../src/platform/node-folder-reader';
import { createNodeEngine } from '../src/platform/node-gpu';

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== '--');
  let precision: 'f32' | 'f16' = 'f32';
  const pi = args.indexOf('--precision');
  if (pi >= 0) {
    const p = args[pi + 1];
    if (p !== 'f32' && p !== 'f16') { console.error(`--precision must be f32 or f16, got ${p}`); return 2; }
    precision = p;
    args.splice(pi, 2);
  }
  if (args.length !== 1) {
    console.error('usage: npm run conformance -- <vector folder> [--precision f32|f16]');
    return 2;
  }
  const dir = args[0];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`conformance: ${dir} is not a folder`);
    return 2;
  }
  if (precision === 'f16') console.log('note: f16 compute: bounds widened to ≥ 2e-2 × max|ref| (README "Tolerances"); indicative for multi-step pipelines');
  const engine = await createNodeEngine({ precision });
  try {
    const r = await runConformance({ engine, files: nodeFolderReader(dir), log: (l) => console.log(l) });
    if (r.passed + r.failed === 0) { console.error('conformance: nothing was compared'); return 1; }
    return r.failed > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof ConformanceError) {
      console.error(`conformance: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    engine.destroy();
  }
}

// Top-level await: vite-node closes its module server when the entry module settles, and the runners are
// imported lazily (import.meta.glob) during main().
let code: number;
try {
  code = await main(process.argv.slice(2));
} catch (e) {
  console.error(e);
  code = 2;
}
process.exit(code);
