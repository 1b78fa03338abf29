import react from '@vitejs/plugin-react';
import { defineConfig, type Connect, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { CSP } from './app/csp.js';
import { tinyModelResponse } from './e2e/tiny-model.js';

// Cross-origin isolation (COOP/COEP) gives onnxruntime-web multi-threaded wasm and precise timers.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Serves the tiny random-weight test model at /tiny-model/ (from ../shared/oracle) in dev and preview. */
function tinyModel(): Plugin {
  const serve: Connect.NextHandleFunction = (req, res, next) => {
    if (!req.url?.startsWith('/tiny-model/')) return next();
    let name: string;
    try {
      name = decodeURIComponent(req.url.slice('/tiny-model/'.length).split('?')[0]);
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('malformed %-escape in the file name');
      return;
    }
    const r = tinyModelResponse(name, req.headers.range);
    res.writeHead(r.status, r.headers);
    res.end(r.body);
  };
  return { name: 'tiny-model', configureServer: (s) => void s.middlewares.use(serve), configurePreviewServer: (s) => void s.middlewares.use(serve) };
}

/** The Content Security Policy as a <meta> tag in the built page (dev keeps Vite's inline HMR scripts working). */
function cspMeta(): Plugin {
  return {
    name: 'csp-meta',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP }, injectTo: 'head-prepend' }],
  };
}

export default defineConfig({
  root: 'app',
  // Dev server: pre-bundling would move onnxruntime-web and break the relative URL of its wasm (docs/text-and-schedulers.md).
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  publicDir: '../public',
  plugins: [
    react(),
    tinyModel(),
    cspMeta(),
    // The installable, offline app: Workbox precaches the app shell, the worker bundles and onnxruntime-web's wasm
    // (28 MB, hence the raised size limit); never model weights, which live in OPFS (src/delivery) and survive
    // app updates (the precache cleanup only touches Workbox's own caches). A new version waits until every tab of
    // the old one is closed ('prompt'), so code never changes under a running generation.
    VitePWA({
      registerType: 'prompt',
      injectRegister: false,
      manifest: {
        name: 'AnimateDiff Web',
        short_name: 'AnimateDiff',
        description: 'Text-to-animation diffusion (Stable Diffusion 1.5 + AnimateDiff) running in your browser on WebGPU.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#11131c',
        theme_color: '#11131c',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{html,js,css,wasm,svg,png,webmanifest}'],
        maximumFileSizeToCacheInBytes: 48 * 1024 * 1024,
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/tiny-model\//],
        cleanupOutdatedCaches: true,
      },
    }),
  ],
  build: { outDir: '../dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { headers: isolation, fs: { allow: ['..'] } },
  preview: { headers: { ...isolation, 'Content-Security-Policy': CSP } },
});
