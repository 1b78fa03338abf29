// Node side of `npm run bench -- --browser`: serve the repo with vite, open bench/browser.html in
// headless Chromium (WebGPU on its bundled SwiftShader here, the real GPU elsewhere), stream progress
// from the page's console, and return the table rows the page computed.
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { chromium } from 'playwright-core';
import { createServer, type Plugin } from 'vite';
import type { Header, Row } from './suite';

export interface BrowserBenchArgs {
  full: boolean;
  filter?: string;
  precision: 'auto' | 'f16' | 'f32';
  /** How long the whole page may run, in minutes (default 20: software WebGPU is slow). */
  timeoutMinutes?: number;
}

const CHROMIUM = process.env.ADW_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];
/** The whole run may take this long unless `--timeout` says otherwise (software WebGPU is slow). */
const DEFAULT_TIMEOUT_MINUTES = 20;

/** GET /__bench-manifests/<file>: the full-size models' key → shape manifests (bench/browser.ts's ManifestSource). */
function manifestsPlugin(dir: string): Plugin {
  return {
    name: 'bench-manifests',
    configureServer: (s) => void s.middlewares.use('/__bench-manifests/', (req, res) => {
      const file = basename(decodeURIComponent((req.url ?? '').split('?')[0]));
      readFile(join(dir, file)).then(
        (body) => res.writeHead(200, { 'Content-Type': 'application/json', 'Cross-Origin-Resource-Policy': 'same-origin' }).end(body),
        (err: Error) => res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`no manifest ${file} in ${dir}: ${err.message}`),
      );
    }),
  };
}

export async function runInChromium(root: string, manifestsDir: string, args: BrowserBenchArgs): Promise<{ header: Header; rows: Row[] }> {
  const server = await createServer({
    configFile: false,
    root,
    plugins: [manifestsPlugin(manifestsDir)],
    logLevel: 'warn',
    clearScreen: false,
    server: {
      host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null,
      // Cross-origin isolation: onnxruntime-web's threaded wasm needs SharedArrayBuffer.
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      // node_modules may be a symlink out of the repository (a git worktree sharing one install): onnxruntime-web's
      // wasm is requested by its real path, which must be servable too.
      fs: { allow: [root, realpathSync(join(root, 'node_modules'))] },
    },
    // Scan the bench page's imports up front so no dependency re-optimisation reloads the page mid-run;
    // onnxruntime-web loads its wasm by URL and must not be pre-bundled.
    optimizeDeps: { entries: ['bench/browser.html'], exclude: ['onnxruntime-web'] },
  });
  await server.listen();
  const base = server.resolvedUrls?.local[0];
  if (!base) { await server.close(); throw new Error('bench --browser: vite did not report a local URL'); }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.text().startsWith('bench:')) console.error(`  ${m.text().slice(6).trim()}`); });
    page.on('pageerror', (err) => console.error(`  page error: ${err.message}`));
    const qs = new URLSearchParams({ precision: args.precision, full: args.full ? '1' : '0', filter: args.filter ?? '' });
    await page.goto(`${base}bench/browser.html?${qs}`);
    const handle = await page.waitForFunction(() => (globalThis as { __bench?: unknown }).__bench, null, { timeout: (args.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES) * 60_000, polling: 500 });
    const result = (await handle.jsonValue()) as { header?: Header; rows?: Row[]; error?: string };
    if (result.error) throw new Error(`bench page failed: ${result.error}`);
    const ua = await page.evaluate(() => navigator.userAgent);
    const version = /Chrome\/([\d.]+)/.exec(ua)?.[1] ?? ua;
    return { header: { ...result.header!, runtime: `Chromium ${version} (headless, ${CHROMIUM})` }, rows: result.rows! };
  } finally {
    await browser.close();
    await server.close();
  }
}
