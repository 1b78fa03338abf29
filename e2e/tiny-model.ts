// The tiny random-weight test model, served at /tiny-model/<file>: UNet, motion adapter and VAE from the oracle
// vectors in ../shared (the repo's sibling folder, both here and in CI), a generated text encoder (below), the CLIP
// tokenizer, and component configs. Served by `vite dev`/`vite preview` through a small middleware in
// vite.config.ts, so the "Tiny test model" preset works in the e2e tests and in demos alike.
// Weight files are answered with HTTP Range support (206 + Content-Range), as the app's URL loader requires.

import { existsSync, readFileSync } from 'node:fs';
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
  'tokenizer.json': path.join(ORACLE_DIR, 'tokenizer/tokenizer.json'),
  'tokenizer_config.json': path.join(ORACLE_DIR, 'tokenizer/tokenizer_config.json'),
};

/**
 * Component configs, cut out of the oracle's config.json files and tagged the way the Hub's own config.json
 * files are (`_class_name` for diffusers, `architectures` for transformers), so the loader tells them apart by content.
 */
const CONFIGS: Record<string, () => object> = {
  'text_encoder_config.json': () => ({ architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...TEXT }),
  'unet_config.json': () => ({ _class_name: 'UNet2DConditionModel', ...oracleConfig('unet_motion_tiny').unet_config }),
  'motion_adapter_config.json': () => ({ _class_name: 'MotionAdapter', ...oracleConfig('unet_motion_tiny').motion_adapter_config }),
  'vae_config.json': () => ({ _class_name: 'AutoencoderKL', ...oracleConfig('vae_decoder_tiny').vae_config }),
};

/**
 * The tiny text encoder. The oracle's tiny CLIP (width 12) and tiny UNet (cross-attention width 32) come from
 * separate model sets and do not fit together, so the tiny model's text encoder is generated here: the oracle
 * CLIP's architecture and key layout (transformers CLIPTextModel, quick_gelu) at the UNet's width, with seeded
 * random weights as strong as the oracle's (norm weights 1 + 0.2·N, biases 0.1·N, weights N/√fan_in,
 * embeddings 0.5·N); the token embedding is stored in F16, as published checkpoints often are.
 */
const TEXT = { hidden_size: 32, intermediate_size: 128, num_attention_heads: 4, num_hidden_layers: 2, max_position_embeddings: 77, vocab_size: 49408, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, projection_dim: 32, bos_token_id: 49406, eos_token_id: 49407, pad_token_id: 49407 };

function tinyTextEncoder(): Buffer {
  let state = 0x5eed1234;
  const uniform = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (n: number, scale: number, shift = 0) => Float32Array.from({ length: n }, () => shift + scale * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()));
  const D = TEXT.hidden_size, I = TEXT.intermediate_size;
  const t: SafetensorsTensor[] = [];
  const add = (name: string, shape: number[], data: Float32Array, dtype: 'F32' | 'F16' = 'F32') => t.push({ name: `text_model.${name}`, dtype, shape, data });
  add('embeddings.token_embedding.weight', [TEXT.vocab_size, D], normal(TEXT.vocab_size * D, 0.5), 'F16');
  add('embeddings.position_embedding.weight', [TEXT.max_position_embeddings, D], normal(TEXT.max_position_embeddings * D, 0.5));
  for (let l = 0; l < TEXT.num_hidden_layers; l++) {
    const p = `encoder.layers.${l}.`;
    for (const n of ['layer_norm1', 'layer_norm2']) {
      add(`${p}${n}.weight`, [D], normal(D, 0.2, 1));
      add(`${p}${n}.bias`, [D], normal(D, 0.1));
    }
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      add(`${p}self_attn.${n}.weight`, [D, D], normal(D * D, 1 / Math.sqrt(D)));
      add(`${p}self_attn.${n}.bias`, [D], normal(D, 0.1));
    }
    add(`${p}mlp.fc1.weight`, [I, D], normal(I * D, 1 / Math.sqrt(D)));
    add(`${p}mlp.fc1.bias`, [I], normal(I, 0.1));
    add(`${p}mlp.fc2.weight`, [D, I], normal(D * I, 1 / Math.sqrt(I)));
    add(`${p}mlp.fc2.bias`, [D], normal(D, 0.1));
  }
  add('final_layer_norm.weight', [D], normal(D, 0.2, 1));
  add('final_layer_norm.bias', [D], normal(D, 0.1));
  return safetensorsBytes(t);
}

interface SafetensorsTensor { name: string; dtype: 'F32' | 'F16'; shape: number[]; data: Float32Array }

/**
 * A safetensors file: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, then the data.
 * (Written here rather than with src/weights' writer so vite.config.ts, which imports this file, stays small.)
 */
function safetensorsBytes(tensors: SafetensorsTensor[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    let bytes: Buffer;
    if (t.dtype === 'F32') {
      bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    } else {
      bytes = Buffer.alloc(t.data.length * 2);
      t.data.forEach((v, i) => bytes.writeUInt16LE(f16Bits(v), i * 2));
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...parts]);
}

/** IEEE half-precision bits of `v`, round to nearest even (normal range; tiny values flush to zero). */
function f16Bits(v: number): number {
  const f32 = new Float32Array([v]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}

let textEncoderBytes: Buffer | null = null;

function oracleConfig(set: string): Record<string, object> {
  return JSON.parse(readFileSync(V(`${set}/vA/config.json`), 'utf8'));
}

export const TINY_MODEL_FILES = [...Object.keys(WEIGHTS), 'text_encoder_transformers.safetensors', ...Object.keys(CONFIGS)];

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
  if (CONFIGS[name] && tinyModelAvailable()) {
    body = Buffer.from(JSON.stringify(CONFIGS[name](), null, 2));
    type = 'application/json';
  } else if (name === 'text_encoder_transformers.safetensors') {
    body = textEncoderBytes ??= tinyTextEncoder();
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

