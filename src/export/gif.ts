// Animated GIF export through gif.js: NeuQuant palette per frame, quantised in gif.js's own web workers.
// The worker script is served by the app (Vite `?url` import), so nothing is fetched from elsewhere.

import GIF from 'gif.js/dist/gif.js';
import workerUrl from 'gif.js/dist/gif.worker.js?url';
import { gifDelayMs } from './gif-delay';

export interface GifOptions {
  /** Frames per second; GIF stores delays in 1/100 s, so the delay is rounded to whole centiseconds. */
  fps: number;
  /** true = loop forever, false = play once. */
  loop: boolean;
  /** gif.js pixel sample interval for the palette: 1 = best and slowest, 10 = the default. */
  quality?: number;
  /** Floyd–Steinberg dithering: smoother gradients in photographic frames, a little larger files. */
  dither?: boolean;
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

/** Encodes RGBA frames (each width × height × 4 bytes) into an animated GIF. */
export function encodeGif(frames: readonly Uint8ClampedArray[], width: number, height: number, opts: GifOptions): Promise<Blob> {
  if (frames.length === 0) return Promise.reject(new RangeError('encodeGif: no frames to encode'));
  for (const [i, f] of frames.entries()) {
    if (f.length !== width * height * 4) {
      return Promise.reject(new RangeError(`encodeGif: frame ${i} has ${f.length} bytes, expected ${width}×${height}×4 = ${width * height * 4}`));
    }
  }
  const gif = new GIF({
    workers: Math.max(1, Math.min(4, (globalThis.navigator?.hardwareConcurrency ?? 2) - 1)),
    quality: opts.quality ?? 10,
    width,
    height,
    workerScript: workerUrl,
    // gif.js: 0 = loop forever, -1 = play once.
    repeat: opts.loop ? 0 : -1,
    dither: opts.dither ? 'FloydSteinberg' : false,
  });
  const delay = gifDelayMs(opts.fps);
  // The frames go to gif.js as they are (ImageData wraps the same bytes, no copy): gif.js hands each one to a
  // quantiser worker only while it renders, so a long animation is not held twice in memory.
  for (const f of frames) {
    const bytes = f.buffer instanceof ArrayBuffer ? (f as Uint8ClampedArray<ArrayBuffer>) : new Uint8ClampedArray(f);
    gif.addFrame(new ImageData(bytes, width, height), { delay });
  }
  return new Promise<Blob>((resolve, reject) => {
    const onAbort = () => {
      gif.abort();
      reject(new DOMException('GIF export cancelled', 'AbortError'));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    gif.on('progress', (p) => opts.onProgress?.(p));
    gif.on('finished', (blob) => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(blob);
    });
    gif.render();
  });
}

