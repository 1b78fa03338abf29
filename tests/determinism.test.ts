// Same seed, same settings ⇒ the same animation, whatever the GPU memory held before: the whole generation loop
// (UNet + motion modules, CFG, DDIM, VAE) on a fresh engine and on an engine whose pooled buffers were filled
// with NaN first must agree bit for bit. A kernel that reads memory it never wrote (a missing bounds check, an
// unwritten padding lane) fails this test; the oracle tests cannot see that, since they run on fresh buffers.
import { generate } from '../src/pipeline/generate';
import { makeSpec } from '../src/pipeline/spec';
import { createNodeEngine } from '../src/platform/node-gpu';
import { BufferPool } from '../src/gpu/pool';
import { describe, expect, it } from 'vitest';
import { cannotRun } from './gpu';
import { oraclePipeline } from './oracle-pipeline';

const oracle = oraclePipeline('pipeline_tiny');
const { config } = oracle;

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
  const { unet, vae } = await oracle.loadModels(e, { semantics: 'diffusers' });
  const r = config.runs['ddim_4'];
  const spec = makeSpec({ prompt: '(replayed embeddings)', seed: 0, frames: config.num_frames, width: config.width, height: config.height, steps: 2, guidance: r.guidance_scale });
  const res = await generate({ engine: e, unet, vae }, spec, {}, {
    scheduler: { className: r.scheduler_class, config: r.scheduler_config },
    embeddings: oracle.embeddings(),
    initialNoise: oracle.initialNoise(), semantics: 'diffusers', decode: true, decodeFrames: 2, keepFloatFrames: true,
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
