// The error model: every layer's errors carry one shared kind (src/errors.ts), and the worker maps kinds to the
// words the user reads without importing any layer's error classes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, factsOf, KindedError } from '../../src/errors';
import { DeviceLostError, GpuCapabilityError, GpuOutOfMemoryError, GpuUnavailableError, GpuValidationError, ShaderCompileError } from '../../src/gpu/errors';
import { ModelWeightsError } from '../../src/models/layers';
import { VaeWeightError } from '../../src/models/vae-decoder';
import { GenerateRequestError, GenerationCancelledError } from '../../src/pipeline/errors';
import { WeightFileError } from '../../src/weights/errors';
import { openSafetensorsBytes } from '../../src/weights/safetensors';
import { openUrlSource } from '../../src/weights/source';
import { describeError, needsFreshEngine } from '../../src/worker/errors';
import { InvalidSettingsError } from '../../src/worker/settings';
import { hyperParamsFromDiffusers } from '../../src/models/config';
import { buildClipTextGraph } from '../../src/text/clip-encoder';
import { createClipTokenizer } from '../../src/text/tokenizer';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);
}

describe('error kinds', () => {
  it('every error class of every layer carries its kind', () => {
    const cases: [Error, string][] = [
      [new GpuUnavailableError('x'), 'no-webgpu'], [new GpuCapabilityError('x'), 'capability'],
      [new GpuOutOfMemoryError('x'), 'out-of-memory'], [new DeviceLostError('unknown', 'x'), 'device-lost'],
      [new GpuValidationError('x'), 'gpu-bug'], [new ShaderCompileError('x'), 'gpu-bug'],
      [new ModelWeightsError('x'), 'model-mismatch'], [new VaeWeightError('x'), 'model-mismatch'],
      [new GenerateRequestError('x'), 'invalid-settings'], [new InvalidSettingsError('x'), 'invalid-settings'],
      [new GenerationCancelledError('denoising', 1), 'cancelled'], [new DOMException('x', 'AbortError'), 'cancelled'],
      [new DOMException('x', 'QuotaExceededError'), 'out-of-memory'],
      [new WeightFileError('io', 'f', 'x'), 'network'], [new WeightFileError('pickle', 'f', 'x'), 'not-safetensors'],
      [new WeightFileError('truncated', 'f', 'x'), 'corrupt-file'], [new WeightFileError('unknown-layout', 'f', 'x'), 'wrong-model'],
      [new WeightFileError('shape-mismatch', 'f', 'x'), 'model-mismatch'], [new WeightFileError('unsupported-model', 'f', 'x'), 'unsupported-model'],
      [new WeightFileError('non-finite', 'f', 'x'), 'bad-values'], [new Error('x'), 'internal'], [new RangeError('x'), 'internal'],
    ];
    for (const [e, kind] of cases) {
      expect(factsOf(e).kind, e.name).toBe(kind);
      expect(describeError(e).kind).toBe(kind);
    }
    expect(factsOf('a string').kind).toBe('internal');
    expect(factsOf({ kind: 'no-such-kind' }).kind).toBe('internal');
  });

  it('every kind has a headline the user can read', () => {
    for (const kind of ERROR_KINDS) {
      const u = describeError(new KindedError(kind, 'the error\'s own words', { file: 'x.safetensors' }));
      expect(u.kind).toBe(kind);
      expect(u.message.length).toBeGreaterThan(5);
    }
  });

  it('the worker maps kinds without importing any layer\'s error classes', () => {
    const src = readFileSync('src/worker/errors.ts', 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['../errors', './protocol']);
  });

  it('needs a fresh engine after a lost device, GPU out-of-memory or a GPU bug, not after a file or setting error', () => {
    for (const e of [new DeviceLostError('unknown', ''), new GpuOutOfMemoryError('x'), new GpuValidationError('x'), new ShaderCompileError('x')]) expect(needsFreshEngine(e)).toBe(true);
    for (const e of [new WeightFileError('io', 'f', 'x'), new InvalidSettingsError('x'), new DOMException('x', 'QuotaExceededError'), new Error('x')]) expect(needsFreshEngine(e)).toBe(false);
  });
});

describe('errors of user-supplied configs, tokenizers and text encoders are typed', () => {
  it('config.json values', () => {
    for (const cfg of [{ num_attention_heads: 'x' }, { norm_num_groups: 0 }, { norm_eps: -1 }, { num_attention_heads: [8, 2.5] }, { flip_sin_to_cos: 'yes' }, { time_cond_proj_dim: 256 }]) {
      let err: unknown;
      try { hyperParamsFromDiffusers(cfg); } catch (e) { err = e; }
      expect(factsOf(err).kind, JSON.stringify(cfg)).toBe('unsupported-model');
      expect(describeError(err).message).toMatch(/^unet_config\./);
    }
    expect(hyperParamsFromDiffusers({ num_attention_heads: null, attention_head_dim: 8 }).heads).toBe(8);
    expect(hyperParamsFromDiffusers({ num_attention_heads: [5, 10, 20, 20] }).heads).toEqual([5, 10, 20, 20]);
  });

  it('a tokenizer.json that is not a CLIP tokenizer', () => {
    for (const json of [{}, { model: { type: 'BPE', vocab: {}, merges: [] } }]) {
      let err: unknown;
      try { createClipTokenizer(json); } catch (e) { err = e; }
      expect(factsOf(err).kind).toBe('wrong-model');
      expect(describeError(err).message).toMatch(/^CLIP tokenizer: /);
    }
  });

  it('text-encoder weights or heads that do not make a CLIP model', async () => {
    const empty = { has: () => false, shape: () => [], read: async () => new Float32Array(0), names: () => [] };
    const e1 = await buildClipTextGraph(empty as never).then(() => null, (e: unknown) => e);
    expect(describeError(e1)).toMatchObject({ kind: 'model-mismatch', message: expect.stringMatching(/^CLIP text encoder: weight 'text_model\.embeddings\.token_embedding\.weight' is missing/) });
  });
});

describe('messages', () => {
  it('a request the pipeline cannot run reads as a sentence', () => {
    expect(describeError(new GenerateRequestError('width 500 must be a positive multiple of 8')).message).toBe('These settings cannot run: width 500 must be a positive multiple of 8.');
    expect(describeError(new InvalidSettingsError('Frames must be a whole number from 8 to 32 (got 40).')).message).toBe('Frames must be a whole number from 8 to 32 (got 40).');
  });

  it('a corrupt config.json is not called a .safetensors file', () => {
    expect(describeError(new WeightFileError('bad-json', 'unet/config.json', 'is not a JSON object')).message).toBe('unet/config.json is not a valid JSON file (it is corrupt or truncated).');
    expect(describeError(new WeightFileError('truncated', 'unet.safetensors', 'x')).message).toBe('unet.safetensors is not a valid .safetensors file (it is corrupt or truncated).');
  });

  it('a 404 says "not found (HTTP 404)" in the headline, not only in the details', async () => {
    const fetch404 = async () => new Response('Entry not found', { status: 404 });
    const e = await rejection(openUrlSource('https://huggingface.co/x/y/resolve/main/missing.safetensors', { fetch: fetch404, name: 'missing.safetensors', retries: 0 }));
    const u = describeError(e);
    expect(u.kind).toBe('network');
    expect(u.message).toBe('Could not download missing.safetensors: not found (HTTP 404).');
    const e403 = await rejection(openUrlSource('https://h/x', { fetch: async () => new Response('', { status: 403 }), name: 'gated.safetensors', retries: 0 }));
    expect(describeError(e403).message).toBe('Could not download gated.safetensors: access denied (HTTP 403).');
  });

  it('a random-bytes x.ckpt is told it is not a safetensors file, not to download it again', async () => {
    const bytes = new Uint8Array(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const u = describeError(await rejection(openSafetensorsBytes(bytes, 'x.ckpt')));
    expect(u.kind).toBe('not-safetensors');
    expect(u.message).toMatch(/^x\.ckpt is not a \.safetensors file/);
    expect(`${u.message} ${u.suggestion}`).not.toMatch(/again/);
    const pickle = new Uint8Array(64); pickle.set([0x80, 0x02, 0x8a, 0x0a]);
    expect(describeError(await rejection(openSafetensorsBytes(pickle, 'mm.ckpt'))).message).toMatch(/^mm\.ckpt is a PyTorch pickle/);
  });
});
