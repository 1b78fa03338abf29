// Derived data kept between loads (issue 8: "the second start is fast"), through the real loaders, the real model
// cache on a Node directory and the engine: the text encoder's ONNX graph and the quantized UNet + motion module are
// written by the first load and read back by the next (counted), which then produces bit-identical results; a
// changed LoRA strength or weight format misses; a corrupt entry is rebuilt without the load failing.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCache } from '../src/delivery/cache';
import { type DerivedReport, loadModels, type ModelSources } from '../src/pipeline/load';
import { generate } from '../src/pipeline/generate';
import { makeSpec } from '../src/pipeline/spec';
import { nodeFileStore } from '../src/platform/node-file-store';
import type { DerivedStore } from '../src/weights/derived';
import { bytesSource, type ByteSource } from '../src/weights/source';
import { tinyModelResponse } from '../e2e/tiny-model';
import { TOKENIZER, VECTORS } from './oracle';
import { testEngine } from './gpu';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** A file as the model cache serves it: its bytes and its verified sha256. */
const cached = (bytes: Uint8Array, name: string): ByteSource => ({ ...bytesSource(bytes, name), sha256: sha256(bytes) });
const oracle = (rel: string) => cached(new Uint8Array(readFileSync(path.join(VECTORS, rel))), path.basename(rel));
const tiny = (name: string) => tinyModelResponse(name, undefined).body;

const unetConfig = JSON.parse(readFileSync(path.join(VECTORS, 'unet_motion_tiny/vA/config.json'), 'utf8'));
const vaeConfig = JSON.parse(readFileSync(path.join(VECTORS, 'vae_decoder_tiny/vA/config.json'), 'utf8')).vae_config;

function sources(motionLoraStrength = 0.5): ModelSources {
  return {
    base: [oracle('unet_motion_tiny/vA/unet_ldm.safetensors'), oracle('vae_decoder_tiny/vA/vae_ldm.safetensors'),
      cached(new Uint8Array(tiny('text_encoder_transformers.safetensors')), 'text_encoder_transformers.safetensors')],
    motionModule: oracle('unet_motion_tiny/vA/motion_module_original.safetensors'),
    motionLoras: [{ source: oracle('motion_lora/vA/motion_lora_original.safetensors'), strength: motionLoraStrength }],
    tokenizer: { json: JSON.parse(readFileSync(path.join(TOKENIZER, 'tokenizer.json'), 'utf8')), config: JSON.parse(readFileSync(path.join(TOKENIZER, 'tokenizer_config.json'), 'utf8')) },
    configs: { unet: unetConfig.unet_config, motionAdapter: unetConfig.motion_adapter_config, vae: vaeConfig, text: JSON.parse(tiny('text_encoder_config.json').toString('utf8')) },
  };
}

describe('derived data in the model cache (text-encoder graph, quantized weights)', () => {
  let dir: string;
  let cache: ModelCache;
  /** The cache, counting the derived entries read back. */
  const reads: string[] = [];
  let store: DerivedStore;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'adw-derived-'));
    cache = await ModelCache.open({ store: nodeFileStore(dir) });
    store = {
      getDerived: async (tag, from) => {
        const b = await cache.getDerived(tag, from);
        if (b) reads.push(tag);
        return b;
      },
      writeDerived: (tag, from, o) => cache.writeDerived(tag, from, o),
      removeDerived: (tag, from) => cache.removeDerived(tag, from),
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Loads and reports what the derived data did; with `outputs`, also encodes a prompt and generates 1 step of 2
   * frames at 64² (the latents and embeddings, to compare).
   */
  async function run(weights: 'float' | 'int8' | 'int4', motionLoraStrength = 0.5, outputs = false) {
    const e = await testEngine('f32');
    reads.length = 0;
    let report: DerivedReport | null = null;
    const m = await loadModels(e, sources(motionLoraStrength), undefined, { weights, derived: store, onDerived: (r) => { report = r; } });
    try {
      if (!outputs) return { latents: null, emb: null, report: report!, reads: [...reads] };
      const emb = await m.text.encode(['a cat', ''], 0);
      const res = await generate(m, makeSpec({ prompt: 'a cat', seed: 7, frames: 2, width: 64, height: 64, steps: 1, guidance: 1, scheduler: 'ddim' }));
      return { latents: res.latents, emb, report: report!, reads: [...reads] };
    } finally {
      m.release();
    }
  }

  const entryFile = (tag: string) => path.join(dir, cache.manifest.all().find((f) => f.derived?.tag === tag)!.stored);
  /** Flips one byte of a stored entry, `at` bytes from its start. */
  const corrupt = (tag: string, at: number) => {
    const f = entryFile(tag);
    const b = readFileSync(f);
    b[at] ^= 0x5a;
    writeFileSync(f, b);
  };

  it('int8: the second load reads the quantized weights and the graph back (bit-identical results); a changed LoRA strength or format misses', async () => {
    const first = await run('int8', 0.5, true);
    expect(first.report.textGraphCached).toBe(false);
    expect(first.report.quantized).toMatchObject({ hits: 0, rebuilt: false });
    const n = first.report.quantized!.quantized;
    expect(n).toBeGreaterThan(20); // every linear and conv of the tiny UNet + motion module
    expect(first.reads).toEqual([]);

    const second = await run('int8', 0.5, true);
    expect(second.reads.sort()).toEqual(['onnx-text-encoder', 'unet-int8']);
    expect(second.report).toEqual({ textGraphCached: true, quantized: { hits: n, quantized: 0, rebuilt: false } });
    expect(second.emb).toEqual(first.emb);
    expect(second.latents).toEqual(first.latents);

    // The storage manager lists them (on their own here: no input file is in this cache; tests/delivery.test.ts has
    // an entry shown and deleted with its source model).
    expect((await cache.report()).models.flatMap((g) => g.files.map((f) => f.name)).sort()).toEqual(['UNet + motion module (int8)', 'text encoder (ONNX graph)']);

    // Another MotionLoRA strength: other quantized weights; the text graph is still good.
    expect((await run('int8', 0.75)).report).toEqual({ textGraphCached: true, quantized: { hits: 0, quantized: n, rebuilt: false } });
    // int4: another entry.
    expect((await run('int4')).report.quantized).toEqual({ hits: 0, quantized: n, rebuilt: false });
  }, 600_000);

  it('a corrupt entry is rebuilt in the same load, which still gives the same result', async () => {
    const good = await run('int8', 0.5, true);
    const n = good.report.quantized!.hits;
    expect(n).toBeGreaterThan(20);
    // One flipped byte in the first tensor's data: that tensor is quantized again, the others are read and copied.
    corrupt('unet-int8', 5);
    const bad = await run('int8', 0.5, true);
    expect(bad.report.quantized).toEqual({ hits: n - 1, quantized: 1, rebuilt: true });
    expect(bad.latents).toEqual(good.latents);
    expect((await run('int8')).report.quantized).toEqual({ hits: n, quantized: 0, rebuilt: false });
    // An entry cut short (no index): written anew.
    const f = entryFile('unet-int8');
    writeFileSync(f, readFileSync(f).subarray(0, 100));
    cache.manifest.all().find((x) => x.derived?.tag === 'unet-int8')!.size = 100; // as if the cache had recorded it so
    expect((await run('int8')).report.quantized).toEqual({ hits: 0, quantized: n, rebuilt: true });
    // The text graph: a flipped byte is found by its check; the graph is built and stored again.
    corrupt('onnx-text-encoder', 1000);
    const graph = await run('float', 0.5, true);
    expect(graph.report).toEqual({ textGraphCached: false, quantized: null }); // float weights keep no quantized entry
    expect(graph.emb).toEqual(good.emb);
    expect((await run('float')).report.textGraphCached).toBe(true);
  }, 600_000);

  it('files without a known sha256 (picked from disk) are derived again on each load', async () => {
    const e = await testEngine('f32');
    const s = sources();
    s.base = s.base.map((b) => ({ name: b.name, size: b.size, read: b.read }));
    let report: DerivedReport | null = null;
    const m = await loadModels(e, s, undefined, { weights: 'int8', derived: store, onDerived: (r) => { report = r; } });
    m.release();
    expect(report).toEqual({ textGraphCached: null, quantized: null });
  }, 300_000);
});
