// Browser side of `npm run bench -- --browser` (bench/browser.html): runs every bench/cases/*.ts
// factory on navigator.gpu and leaves { header, rows } (or { error }) on globalThis.__bench for the
// Node host (bench/browser-host.ts). Progress lines go to the console prefixed "bench:".
import { Engine } from '../src/gpu/engine';
import type { CaseFactory, ManifestSource } from './harness';
import { formatTable, type Header, runSuite } from './suite';

const modules = import.meta.glob<{ cases?: CaseFactory }>('./cases/*.ts');
const g = globalThis as { __bench?: unknown };

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const precision = (q.get('precision') ?? 'auto') as 'auto' | 'f16' | 'f32';
  const full = q.get('full') === '1';
  const filter = q.get('filter') || undefined;
  const e = await Engine.create(navigator.gpu, { precision });
  console.log(`bench: ${e.adapterName} (${e.dtype})`);
  const factories: { file: string; cases: CaseFactory }[] = [];
  for (const path of Object.keys(modules).sort()) {
    const file = path.replace('./cases/', '');
    try {
      const mod = await modules[path]();
      if (typeof mod.cases !== 'function') throw new Error('exports no `cases` factory');
      factories.push({ file, cases: mod.cases });
    } catch (err) {
      const msg = (err as Error).message;
      factories.push({ file, cases: () => { throw new Error(`import failed: ${msg}`); } });
    }
  }
  // Served by bench/browser-host.ts from the oracle's manifests folder.
  const manifests: ManifestSource = async (file) => {
    const res = await fetch(`/__bench-manifests/${encodeURIComponent(file)}`);
    if (!res.ok) throw new Error(`manifest ${file}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };
  const rows = await runSuite(e, factories, {
    full, filter, manifests,
    onRow: (r) => console.log(`bench: ${r.name}: ${r.error ?? `${r.oursMs?.toFixed(3)} ms (plain ${r.plainMs?.toFixed(3) ?? '-'} ms)`}`),
  });
  const header: Header = { adapter: e.adapterName, dtype: e.dtype, date: new Date().toISOString(), full, runtime: navigator.userAgent };
  e.destroy();
  document.getElementById('out')!.textContent = formatTable(header, rows);
  g.__bench = { header, rows };
}

main().catch((err: unknown) => {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  document.getElementById('out')!.textContent = msg;
  g.__bench = { error: msg };
});
