// VAE decoder vs the oracle (vae_decoder_tiny/vA: diffusers AutoencoderKL, random weights), frame by frame.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageToRgba, VaeDecoder } from '../../src/models/vae-decoder';
import { fileWeightMap, type WeightMap } from '../../src/weights/weight-map';
import { parseTensorFile, type RefTensor } from '../../src/conformance/tensor-file';
import { openSafetensors } from '../../src/weights/safetensors';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { cannotRun, testEngine } from '../gpu';
import { maxAbsDiff } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/vae_decoder_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');
const outputs = parseTensorFile(readFileSync(path.join(DIR, 'outputs.safetensors')), 'outputs');

async function diffusersWeights(file: string): Promise<WeightMap> {
  return fileWeightMap(await openSafetensors(await openNodeFileSource(path.join(DIR, file))));
}

/** Frame `i` of an NCHW reference tensor as NHWC float64 values. */
function frameNhwc(t: RefTensor, i: number): Float64Array {
  const [, c, h, w] = t.shape;
  const out = new Float64Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[p * c + ch] = t.data[(i * c + ch) * h * w + p];
  return out;
}

describe('VAE decoder (vae_decoder_tiny/vA)', () => {
  const latents = inputs.get('latents')!;
  const [n, c, h, w] = latents.shape;
  const ref = outputs.get('image_f64')!;
  const tol = config.recommended_tolerance_f32.image;

  for (const precision of ['f32', 'f16'] as const) {
    it.skipIf(cannotRun(precision))(`decodes every frame to the f64 reference image (${precision}, diffusers layout)`, async () => {
      const e = await testEngine(precision);
      const inUse = () => e.pool.stats().buffersInUse;
      const beforeLoad = inUse();
      const vae = await VaeDecoder.load(e, await diffusersWeights('vae_diffusers.safetensors'), {
        groups: config.vae_config.norm_num_groups, scalingFactor: config.vae_config.scaling_factor,
      });
      const loaded = inUse() - beforeLoad;
      expect(vae.upscale).toBe(ref.shape[2] / h);
      let afterFirst = 0;
      let worst = 0;
      const refMax = outputs.get('image')!.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < n; i++) {
        const frame = Float32Array.from(latents.data.subarray(i * c * h * w, (i + 1) * c * h * w));
        const img = vae.decodeFrame(frame, h, w);
        expect(img.shape).toEqual([1, ref.shape[2], ref.shape[3], 3]);
        const got = await e.read(img);
        img.release();
        // Every intermediate is released: the count is flat from frame to frame (the first frame may create the
        // GEMM ops' one-per-engine placeholder buffers).
        if (i === 0) afterFirst = inUse();
        else expect(inUse()).toBe(afterFirst);
        worst = Math.max(worst, maxAbsDiff(got, frameNhwc(ref, i)).maxAbs);
        if (i === 0) {
          const rgba = imageToRgba(got, ref.shape[2], ref.shape[3]);
          // Display conversion of pixel 0, channel 0 agrees with (x/2+0.5).clamp(0,1)*255.
          const x = ref.data[0] / 2 + 0.5;
          expect(Math.abs(rgba[0] - Math.min(1, Math.max(0, x)) * 255)).toBeLessThanOrEqual(1);
          expect(rgba[3]).toBe(255);
        }
      }
      vae.release();
      expect(inUse()).toBe(afterFirst - loaded);
      // f32: the oracle's recommended bound max(atol, rel·max|ref|) (20× the f32-vs-f64 error);
      // f16: ~2e-2 relative to the image maximum (README: f16 single modules), the oracle's indicative f16 error is 1.5e-3.
      const bound = precision === 'f32' ? Math.max(tol.atol, tol.rel_to_ref_max * refMax) : 2e-2 * refMax;
      expect(worst).toBeLessThan(bound);
    });
  }

  it('the materialised-scores attention path (used when C > 256, e.g. SD1.5 C = 512) matches too', async () => {
    const e = await testEngine('f32');
    const vae = await VaeDecoder.load(e, await diffusersWeights('vae_diffusers.safetensors'), {
      groups: config.vae_config.norm_num_groups, attention: 'materialised',
    });
    const frame = Float32Array.from(latents.data.subarray(0, c * h * w));
    const img = vae.decodeFrame(frame, h, w);
    const got = await e.read(img);
    img.release();
    vae.release();
    const refMax = outputs.get('image')!.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(got, frameNhwc(ref, 0)).maxAbs).toBeLessThan(Math.max(tol.atol, tol.rel_to_ref_max * refMax));
  });

  it('rejects a missing weight with its name', async () => {
    const e = await testEngine('f32');
    const full = await diffusersWeights('vae_diffusers.safetensors');
    const broken: WeightMap = { ...full, has: (k) => k !== 'decoder.conv_in.weight' && full.has(k) };
    const before = e.pool.stats().buffersInUse;
    await expect(VaeDecoder.load(e, broken, { groups: 8 })).rejects.toThrow(/decoder\.conv_in\.weight/);
    expect(e.pool.stats().buffersInUse).toBe(before);
  });
});
