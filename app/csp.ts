// The app's Content Security Policy, in one place: sent as a header by `vite preview` (and to be sent by any
// host: it is what covers the worker, which runs onnxruntime-web) and written into the built index.html as a
// <meta> tag (which covers the page even when the service worker serves it offline).
//
// - script-src: only this origin, plus 'wasm-unsafe-eval' (WebAssembly compilation for onnxruntime-web and the
//   sha256 hasher); never 'unsafe-eval' or 'unsafe-inline'.
// - connect-src: model downloads go to any https host the user names (the Hub redirects to CDNs), and to this
//   machine over plain http (local servers, the e2e imitation of the Hub).
// - worker-src: the generation worker and the GIF encoder's worker, both files of this origin.

export const CSP_DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  'worker-src': ["'self'"],
  'connect-src': ["'self'", 'https:', 'http://localhost:*', 'http://127.0.0.1:*'],
  'img-src': ["'self'", 'data:', 'blob:'],
  'media-src': ["'self'", 'blob:'],
  'style-src': ["'self'"],
  'font-src': ["'self'"],
  'manifest-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
};

export const CSP = Object.entries(CSP_DIRECTIVES).map(([k, v]) => `${k} ${v.join(' ')}`).join('; ');
