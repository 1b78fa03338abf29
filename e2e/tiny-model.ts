// The tiny random-weight test model, served at /tiny-model/<file> from the oracle vectors in ../shared
// (the repo's sibling folder, both here and in CI). Used by the e2e tests (Playwright page.route) and by
// `vite dev`/`vite preview` (a small middleware in vite.config.ts), so the "Tiny test model" preset works in demos.
// Weight files are answered with HTTP Range support (206 + Content-Range), as the app's URL loader requires.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ORACLE_DIR = path.resolve(repoRoot, '../shared/oracle');

const V = (p: string) => path.join(ORACLE_DIR, 'vectors', p);

/** /tiny-model/<name> → the oracle file holding it. */
const WEIGHTS: Record<string, string> = {
  'unet_diffusers.safetensors': V('unet_motion_tiny/vA/unet_diffusers.safetensors'),
  'motion_adapter_diffusers.safetensors': V('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors'),
  'vae_diffusers.safetensors': V('vae_decoder_tiny/vA/vae_diffusers.safetensors'),
  'text_encoder_transformers.safetensors': V('clip_text_tiny/vA/text_encoder_transformers.safetensors'),
  'tokenizer.json': path.join(ORACLE_DIR, 'tokenizer/tokenizer.json'),
  'tokenizer_config.json': path.join(ORACLE_DIR, 'tokenizer/tokenizer_config.json'),
};

/**
 * Component configs, cut out of the oracle's config.json files and tagged the way the Hub's own config.json
 * files are (`_class_name` for diffusers, `architectures` for transformers), so the loader tells them apart by content.
 */
const CONFIGS: Record<string, () => object> = {
  'unet_config.json': () => ({ _class_name: 'UNet2DConditionModel', ...oracleConfig('unet_motion_tiny').unet_config }),
  'motion_adapter_config.json': () => ({ _class_name: 'MotionAdapter', ...oracleConfig('unet_motion_tiny').motion_adapter_config }),
  'vae_config.json': () => ({ _class_name: 'AutoencoderKL', ...oracleConfig('vae_decoder_tiny').vae_config }),
  'text_encoder_config.json': () => ({ architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...oracleConfig('clip_text_tiny').text_config }),
};

function oracleConfig(set: string): Record<string, object> {
  return JSON.parse(readFileSync(V(`${set}/vA/config.json`), 'utf8'));
}

export const TINY_MODEL_FILES = [...Object.keys(WEIGHTS), ...Object.keys(CONFIGS)];

export function tinyModelAvailable(): boolean {
  return Object.values(WEIGHTS).every((p) => existsSync(p));
}

export interface TinyResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The response for GET /tiny-model/<name> with an optional Range header (a single `bytes=a-b` range). */
export function tinyModelResponse(name: string, range: string | undefined): TinyResponse {
  const common = { 'Cross-Origin-Resource-Policy': 'same-origin', 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-cache' };
  let body: Buffer;
  let type = 'application/octet-stream';
  if (CONFIGS[name]) {
    body = Buffer.from(JSON.stringify(CONFIGS[name](), null, 2));
    type = 'application/json';
  } else if (WEIGHTS[name] && existsSync(WEIGHTS[name])) {
    body = readFileSync(WEIGHTS[name]);
    if (name.endsWith('.json')) type = 'application/json';
  } else {
    return { status: 404, headers: { ...common, 'Content-Type': 'text/plain' }, body: Buffer.from(`no tiny-model file ${name} (is ../shared/oracle there?)`) };
  }
  const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range.trim()) : null;
  if (!m) return { status: 200, headers: { ...common, 'Content-Type': type, 'Content-Length': String(body.length) }, body };
  const start = Number(m[1]);
  const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
  if (start >= body.length || end < start) {
    return { status: 416, headers: { ...common, 'Content-Range': `bytes */${body.length}` }, body: Buffer.alloc(0) };
  }
  const part = body.subarray(start, end + 1);
  return {
    status: 206,
    headers: { ...common, 'Content-Type': type, 'Content-Length': String(part.length), 'Content-Range': `bytes ${start}-${end}/${body.length}` },
    body: part,
  };
}

/** Size of a served weight file (for tests that check downloads). */
export function tinyModelSize(name: string): number {
  return statSync(WEIGHTS[name]).size;
}
