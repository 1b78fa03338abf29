// The VAE decode in frame and row chunks (src/models/row-tiles.ts) equals the whole-image decode: GroupNorm
// statistics over the whole image, every conv with its full receptive field (halo rows). Forced tiny row tiles (one
// latent row, so tiles of 1, 2, 4, 8 rows through the up path) make every tile-boundary path run, at sizes that are
// multiples of 8 but not powers of two: on the oracle's tiny VAE (4 levels, both attention paths), and on a VAE of
// another topology (3 levels, a channel change with a shortcut in every up block) against a float64 reference.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/gpu/engine';
import { VaeDecoder } from '../../src/models/vae-decoder';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { openSafetensors } from '../../src/weights/safetensors';
import { fileWeightMap } from '../../src/weights/weight-map';
import { testEngine } from '../gpu';
import { maxAbsDiff, randn } from '../random';
import { type TinyVaeSpec, tinyVaeWeights, vaeDecoderRef } from '../ref/vae';

const ORACLE = path.resolve(__dirname, '../../../shared/oracle/vectors/vae_decoder_tiny/vA');
const oracleConfig = JSON.parse(readFileSync(path.join(ORACLE, 'config.json'), 'utf8')).vae_config;

/** Frames NCHW (c, h, w), random. */
const latentsOf = (frames: number, c: number, h: number, w: number, seed: number) => Array.from({ length: frames }, (_, i) => randn(c * h * w, seed + i));

async function decode(e: Engine, vae: VaeDecoder, latents: Float32Array[], h: number, w: number, split: { frames: number; rows?: number }): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let f = 0; f < latents.length; f += split.frames) {
    const img = vae.decodeFrames(latents.slice(f, f + split.frames), h, w, { rows: split.rows });
    expect(img.shape).toEqual([Math.min(split.frames, latents.length - f), h * vae.upscale, w * vae.upscale, 3]);
    parts.push(await e.read(img));
    img.release();
  }
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Row tiles change the order of f32 sums only (GroupNorm partials): equal to the whole decode within f32 rounding. */
function expectSame(got: Float32Array, whole: Float32Array, what: string): void {
  const d = maxAbsDiff(got, whole);
  expect(d.maxAbs, `${what}: ${d.maxAbs} on max ${d.refMax}`).toBeLessThanOrEqual(1e-5 * d.refMax);
}

describe('VAE decode in frame and row tiles', () => {
  it('oracle tiny VAE (4 levels, ×8) at 24×40: one-latent-row tiles, 2 frames per call, flash and materialised attention, equal the whole decode', async () => {
    const e = await testEngine('f32');
    const weights = fileWeightMap(await openSafetensors(await openNodeFileSource(path.join(ORACLE, 'vae_diffusers.safetensors'))));
    const [h, w] = [3, 5];
    const latents = latentsOf(2, 4, h, w, 71);
    let whole: Float32Array | null = null;
    for (const attention of ['auto', 'materialised'] as const) {
      const vae = await VaeDecoder.load(e, weights, { groups: oracleConfig.norm_num_groups, scalingFactor: oracleConfig.scaling_factor, attention });
      // The whole decode once (flash attention); the materialised path must give the same image within f32 rounding.
      whole ??= await decode(e, vae, latents, h, w, { frames: 1 });
      const inUse = e.pool.stats().buffersInUse; // after a first decode (the GEMMs' one placeholder buffer per engine)
      expectSame(await decode(e, vae, latents, h, w, { frames: 2, rows: 8 }), whole, `${attention}: 1-row tiles, 2 frames`);
      expect(e.pool.stats().buffersInUse, 'tiles leaked').toBe(inUse);
      vae.release();
    }
  }, 300_000);

  it('a 3-level VAE (×4) at 24×40 against a float64 reference: whole and 1-latent-row tiles, 2 frames per call', async () => {
    const spec: TinyVaeSpec = { channels: [8, 16, 24], layersPerBlock: 1, groups: 4, latentChannels: 4 };
    const weights = tinyVaeWeights(spec, 501);
    const e = await testEngine('f32');
    const scalingFactor = 0.5;
    const vae = await VaeDecoder.load(e, weights, { groups: spec.groups, scalingFactor });
    expect(vae.upscale).toBe(4);
    const [h, w] = [6, 10];
    const latents = latentsOf(2, 4, h, w, 91);
    // The reference takes the scaled NHWC input, as decodeFrames makes it (float32 reciprocal of the factor).
    const inv = Math.fround(1 / scalingFactor);
    const z = new Float32Array(2 * 4 * h * w);
    latents.forEach((l, f) => { for (let c = 0; c < 4; c++) for (let p = 0; p < h * w; p++) z[(f * h * w + p) * 4 + c] = Math.fround(inv * l[c * h * w + p]); });
    const ref = vaeDecoderRef(weights, spec, z, 2, h, w);
    const whole = await decode(e, vae, latents, h, w, { frames: 2 });
    const d = maxAbsDiff(whole, ref);
    // f32 against f64 through ~20 layers of K ≤ 216: well under 1e-4 of the image's scale; an indexing bug is O(1).
    expect(d.maxAbs, `whole decode vs f64: ${d.maxAbs} on max ${d.refMax}`).toBeLessThan(1e-4 * d.refMax);
    expectSame(await decode(e, vae, latents, h, w, { frames: 2, rows: 4 }), whole, '1-row tiles, 2 frames');
    vae.release();
  }, 300_000);
});
