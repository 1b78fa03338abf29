// Same seed, same settings ⇒ the same animation, whatever the GPU memory held before: the whole generation loop
// (UNet + motion modules, CFG, DDIM, VAE) on a fresh engine and on an engine whose pooled buffers were filled
// with NaN first must agree bit for bit. A kernel that reads memory it never wrote (a missing bounds check, an
// unwritten padding lane) fails this test; the oracle tests cannot see that, since they run on fresh buffers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTensorFile, toF32 } from '../src/conformance/tensor-file';
import { hyperParamsFromDiffusers } from '../src/models/config';
import { UNetMotion } from '../src/models/unet';
import { VaeDecoder } from '../src/models/vae-decoder';
import { generate } from '../src/pipeline/generate';
import { makeSpec } from '../src/pipeline/spec';
import { openNodeFileSource } from '../src/platform/node-file-source';
import { createNodeEngine } from '../src/platform/node-gpu';
import { loadWeights } from '../src/weights/load';
import { openSafetensors } from '../src/weights/safetensors';
import { BufferPool } from '../src/gpu/pool';
import { describe, expect, it } from 'vitest';
import { cannotRun } from './gpu';

const VECTORS = path.resolve(__dirname, '../../shared/oracle/vectors');
const DIR = path.join(VECTORS, 'pipeline_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');
const unetConfig = JSON.parse(readFileSync(path.join(VECTORS, 'unet_motion_tiny/vA/config.json'), 'utf8'));
const vaeConfig = JSON.parse(readFileSync(path.join(VECTORS, 'vae_decoder_tiny/vA/config.json'), 'utf8')).vae_config;
const open = async (rel: string) => openSafetensors(await openNodeFileSource(path.resolve(DIR, rel)));

async function once(precision: 'f32' | 'f16', poison: boolean) {
  const e = await createNodeEngine({ precision });
  if (poison) {
    // Fill pooled buffers of every bucket with NaN, then release: later allocations get garbage, as after reuse.
    const bufs = [];
    for (let s = 256; s <= 1 << 24; s *= 2) for (let i = 0; i < 6; i++) {
      const b = e.pool.acquire(s);
      const nan = new Float32Array(BufferPool.bucket(s) / 4).fill(NaN);
      e.device.queue.writeBuffer(b, 0, nan);
      bufs.push(b);
    }
    for (const b of bufs) e.pool.release(b);
  }
  const rel = (s: string) => s.split(' ')[0];
  const w = await loadWeights([await open(rel(config.weights.unet)), await open(rel(config.weights.motion_adapter)), await open(rel(config.weights.vae))]);
  const unet = await UNetMotion.load(e, w.unet!, hyperParamsFromDiffusers(unetConfig.unet_config, unetConfig.motion_adapter_config), { semantics: 'diffusers' });
  const vae = await VaeDecoder.load(e, w.vae!, { groups: vaeConfig.norm_num_groups, scalingFactor: vaeConfig.scaling_factor });
  const r = config.runs['ddim_4'];
  const dim = inputs.get('prompt_embeds')!.shape[2];
  const spec = makeSpec({ prompt: '(replayed embeddings)', seed: 0, frames: config.num_frames, width: config.width, height: config.height, steps: 2, guidance: r.guidance_scale });
  const res = await generate({ engine: e, unet, vae }, spec, {}, {
    scheduler: { className: r.scheduler_class, config: r.scheduler_config },
    embeddings: { positive: toF32(inputs.get('prompt_embeds')!), negative: toF32(inputs.get('negative_prompt_embeds')!), tokens: 77, dim },
    initialNoise: toF32(inputs.get('latents_init')!), semantics: 'diffusers', decode: true, decodeFrames: 2, keepFloatFrames: true,
  });
  const lat = res.latents; const fr = res.floatFrames![1];
  e.destroy();
  return { lat, fr };
}
describe('determinism', () => {
  for (const precision of ['f32', 'f16'] as const) {
    it.skipIf(cannotRun(precision))(`${precision}: a fresh engine and one with NaN-filled pooled buffers give bit-identical latents and frames`, async () => {
      const a = await once(precision, false);
      const b = await once(precision, true);
      expect(Array.from(b.lat)).toEqual(Array.from(a.lat));
      expect(Array.from(b.fr)).toEqual(Array.from(a.fr));
    }, 600_000);
  }
});
