// CLIP text encoder (ONNX graph built from the weights, run by onnxruntime-web's wasm EP in Node)
// against transformers' CLIPTextModel outputs in the oracle set clip_text_tiny.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { createClipTextEncoder } from '../../src/text/clip-encoder';
import { fileWeightMap, type WeightMap } from '../../src/weights/weight-map';
import { loadWeights, openSafetensors } from '../../src/weights';
import { VECTORS } from '../oracle';

const DIR = `${VECTORS}/clip_text_tiny/vA`;

interface StEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

/** Minimal safetensors reader (F32/F64/I64) for the oracle's inputs/outputs (int64 ids, float64 references). */
function readSafetensors(path: string): { header: Record<string, StEntry>; get(name: string): Float32Array | Float64Array | BigInt64Array } {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, StEntry>;
  delete (header as Record<string, unknown>).__metadata__;
  const base = 8 + n;
  return {
    header,
    get(name) {
      const e = header[name];
      if (!e) throw new Error(`${path}: no tensor ${name}`);
      const bytes = buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1]);
      const copy = new Uint8Array(bytes).buffer; // aligned copy
      if (e.dtype === 'F32') return new Float32Array(copy);
      if (e.dtype === 'F64') return new Float64Array(copy);
      if (e.dtype === 'I64') return new BigInt64Array(copy);
      throw new Error(`${path}: ${name} has dtype ${e.dtype}`);
    },
  };
}

/** Weights as the app loads them: src/weights maps either layout to canonical `text_model.*` names. */
async function loadTextEncoder(path: string): Promise<WeightMap> {
  const loaded = await loadWeights([await openSafetensors(await openNodeFileSource(path))]);
  if (!loaded.textEncoder) throw new Error(`${path}: no text encoder found`);
  return loaded.textEncoder;
}

/** A WeightMap straight over a file's own keys (no mapping), for the missing-weight error. */
async function rawWeightMap(path: string): Promise<WeightMap> {
  return fileWeightMap(await openSafetensors(await openNodeFileSource(path)));
}

const config = JSON.parse(readFileSync(`${DIR}/config.json`, 'utf8'));
const inputs = readSafetensors(`${DIR}/inputs.safetensors`);
const outputs = readSafetensors(`${DIR}/outputs.safetensors`);
const ids = Int32Array.from(inputs.get('input_ids') as BigInt64Array, Number);
const [batch, seqLen] = inputs.header.input_ids.shape;

/** |ours − ref| ≤ atol + rel·max|ref| (the oracle's recommended_tolerance_f32 for this output). */
function expectClose(got: Float32Array, name: string) {
  const ref = outputs.get(`${name}_f64`) as Float64Array;
  expect(got.length).toBe(ref.length);
  const tol = config.recommended_tolerance_f32[name] as { atol: number; rel_to_ref_max: number };
  let maxAbs = 0, refMax = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= maxAbs)) maxAbs = d; // NaN is the worst
    refMax = Math.max(refMax, Math.abs(ref[i]));
  }
  const bound = Math.max(tol.atol, tol.rel_to_ref_max * refMax);
  expect(maxAbs, `${name}: max |Δ| ${maxAbs} vs bound ${bound}`).toBeLessThanOrEqual(bound);
}

const tc = config.text_config;
const layouts: [string, string][] = [
  ['transformers', 'text_encoder_transformers.safetensors'],
  ['LDM single-file', 'text_encoder_ldm.safetensors'],
];

describe('CLIP text encoder (onnxruntime-web, wasm EP)', () => {
  for (const [layout, file] of layouts) {
    it(`${layout} weights: last_hidden_state and clip-skip-1 (penultimate + final LN) match transformers`, async () => {
      const weights = await loadTextEncoder(`${DIR}/${file}`);
      const common = { heads: tc.num_attention_heads, hiddenAct: tc.hidden_act, layerNormEps: tc.layer_norm_eps, executionProviders: ['wasm' as const] };
      const enc = await createClipTextEncoder(weights, common);
      expect(enc.ep).toBe('wasm');
      expect(enc.layers).toBe(tc.num_hidden_layers);
      expect(enc.seqLen).toBe(seqLen);
      const last = await enc.encode(ids, batch);
      expect(last.length).toBe(batch * seqLen * tc.hidden_size);
      expectClose(last, 'last_hidden_state');
      await enc.dispose();

      const skip = await createClipTextEncoder(weights, { ...common, clipSkip: 1 });
      expect(skip.layers).toBe(tc.num_hidden_layers - 1);
      expectClose(await skip.encode(ids, batch), 'penultimate_final_ln');
      await skip.dispose();
    });
  }

  it('each batch row is encoded independently (row 1 alone = row 1 of the batch)', async () => {
    const enc = await createClipTextEncoder(await loadTextEncoder(`${DIR}/text_encoder_transformers.safetensors`), {
      heads: tc.num_attention_heads, executionProviders: ['wasm'],
    });
    const both = await enc.encode(ids, batch);
    const one = await enc.encode(ids.slice(seqLen, 2 * seqLen), 1);
    const rowLen = seqLen * tc.hidden_size;
    expect(Array.from(one)).toEqual(Array.from(both.subarray(rowLen, 2 * rowLen)));
    await enc.dispose();
  });

  it('rejects bad input with specific messages', async () => {
    const weights = await loadTextEncoder(`${DIR}/text_encoder_transformers.safetensors`);
    await expect(createClipTextEncoder(weights, { heads: 5 })).rejects.toThrow(/not divisible into 5 heads/);
    await expect(createClipTextEncoder(weights, { heads: tc.num_attention_heads, clipSkip: tc.num_hidden_layers }))
      .rejects.toThrow(/clipSkip/);
    const ldmUnstripped = await rawWeightMap(`${DIR}/text_encoder_ldm.safetensors`); // LDM keys, not canonical names
    await expect(createClipTextEncoder(ldmUnstripped)).rejects.toThrow(/token_embedding.weight' is missing/);
    const enc = await createClipTextEncoder(weights, { heads: tc.num_attention_heads, executionProviders: ['wasm'] });
    await expect(enc.encode(new Int32Array(seqLen + 1))).rejects.toThrow(/are not .* × 77/);
    await enc.dispose();
  });
});
