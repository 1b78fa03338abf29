// How far apart the same seed's frames are across precisions and adapters: the app's own path (worker runner:
// loadSelection + runGeneration, ORT text encoder included) on the tiny test model the app serves
// (e2e/tiny-model.ts), one prompt and seed, f32 and (where the adapter has shader-f16) f16, twice each.
// Prints max and mean |Δ| of the RGBA frames in 0–255 steps: f32 run twice (determinism), f16 vs f32, and, when
// an earlier run on another adapter left its frames in .cache/seed-drift/, this adapter's f32 vs that one's.
//   node scripts/with-gpu.mjs vite-node bench/seed-drift.ts                    # lavapipe (when fetched)
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx vite-node bench/seed-drift.ts
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tinyModelResponse } from '../e2e/tiny-model';
import { createNodeEngine, nodeGpu } from '../src/platform/node-gpu';
import { makeSpec } from '../src/pipeline/spec';
import { loadSelection, runGeneration, selectionShapes } from '../src/worker/runner';
import type { LocalSelection, LocalSource } from '../src/worker/sources';

const file = (name: string): LocalSource => ({ kind: 'file', name, file: new Blob([new Uint8Array(tinyModelResponse(name, undefined).body)]) });
const selection: LocalSelection = {
  base: ['unet_diffusers.safetensors', 'vae_diffusers.safetensors', 'text_encoder_transformers.safetensors'].map(file),
  configs: ['unet_config.json', 'vae_config.json', 'text_encoder_config.json', 'motion_adapter_config.json'].map(file),
  tokenizer: file('tokenizer.json'),
  motion: [file('motion_adapter_diffusers.safetensors')],
  notes: [],
};
const settings = makeSpec({ prompt: 'a lighthouse in a storm, waves', negativePrompt: 'blurry', seed: 1234, frames: 16, width: 64, height: 64, steps: 3, guidance: 7.5, scheduler: 'ddim' });

async function frames(precision: 'f32' | 'f16'): Promise<{ adapter: string; rgba: Uint8ClampedArray }> {
  const engine = await createNodeEngine({ precision });
  const signal = new AbortController().signal;
  const shapes = await selectionShapes(selection, signal);
  const models = await loadSelection(engine, selection, signal, () => {}, { shapes, precision: { activations: precision, weights: precision } });
  const out: Uint8ClampedArray[] = [];
  await runGeneration(engine, models, settings, new AbortController().signal, {
    onStep: () => {}, onWindow: () => {}, onPreview: () => {}, onFrame: (i, _n, rgba) => { out[i] = rgba.slice(); },
  });
  const adapter = engine.adapterName;
  models.dispose();
  engine.destroy();
  const all = new Uint8ClampedArray(out.reduce((n, f) => n + f.length, 0));
  let p = 0;
  for (const f of out) { all.set(f, p); p += f.length; }
  return { adapter, rgba: all };
}

function diff(a: Uint8ClampedArray, b: Uint8ClampedArray): string {
  if (a.length !== b.length) return `different sizes (${a.length} vs ${b.length})`;
  let max = 0, sum = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue; // alpha is always 255
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d); sum += d; n++;
  }
  return `max |Δ| ${max}/255, mean |Δ| ${(sum / n).toFixed(3)}/255${max === 0 ? ' (bit-identical)' : ''}`;
}

const adapter = await (await nodeGpu()).requestAdapter();
const hasF16 = adapter?.features.has('shader-f16') ?? false;
const a = await frames('f32');
const b = await frames('f32');
console.log(`adapter: ${a.adapter}; ${settings.frames} frames ${settings.width}×${settings.height}, ${settings.steps} DDIM steps, seed ${settings.seed}`);
console.log(`f32 vs f32 (same adapter, fresh engine): ${diff(a.rgba, b.rgba)}`);
if (hasF16) {
  const c = await frames('f16');
  const d = await frames('f16');
  console.log(`f16 vs f16 (same adapter, fresh engine): ${diff(c.rgba, d.rgba)}`);
  console.log(`f16 vs f32: ${diff(c.rgba, a.rgba)}`);
} else console.log('f16: this adapter has no shader-f16');
const dir = '.cache/seed-drift';
mkdirSync(dir, { recursive: true });
const key = a.adapter.replace(/[^A-Za-z0-9]+/g, '_');
writeFileSync(`${dir}/${key}.f32.rgba`, a.rgba);
for (const other of existsSync(dir) ? readdirSync(dir) : []) {
  if (other === `${key}.f32.rgba` || !other.endsWith('.f32.rgba')) continue;
  console.log(`f32 ${a.adapter} vs f32 ${other.replace('.f32.rgba', '')}: ${diff(a.rgba, new Uint8ClampedArray(readFileSync(`${dir}/${other}`)))}`);
}
