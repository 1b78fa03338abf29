import react from '@vitejs/plugin-react';
import { defineConfig, type Connect, type Plugin } from 'vite';
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

export default defineConfig({
  root: 'app',
  publicDir: '../public',
  plugins: [react(), tinyModel()],
  build: { outDir: '../dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { headers: isolation, fs: { allow: ['..'] } },
  preview: { headers: isolation },
});
