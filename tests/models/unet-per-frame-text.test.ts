// The UNet with text per frame [b*F, tokens, D] (prompt travel) on the oracle's tiny UNet: each sample's text
// repeated per frame equals the per-sample call, and distinct per-frame texts give the same result whole and under
// the smallest binding limit src/plan accepts (spatial layers in frame chunks: each chunk must get its frames' text).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile } from '../../src/conformance/tensor-file';
import type { Tensor } from '../../src/gpu/tensor';
import { hyperParamsFromDiffusers } from '../../src/models/config';
import { UNetMotion } from '../../src/models/unet';
import { levelWidths, planUNetChunking } from '../../src/plan/chunking';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors } from '../../src/weights/safetensors';
import { testEngine } from '../gpu';
import { maxAbsDiff, randn } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/unet_motion_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');

describe('UNetMotion with text per frame (unet_motion_tiny/vA, f32)', () => {
  it('repeated per-sample text = the per-sample call; distinct per-frame texts: same result in frame chunks', async () => {
    const e = await testEngine('f32');
    const files = ['unet_diffusers.safetensors', 'motion_adapter_diffusers.safetensors'];
    const w = await loadWeights(await Promise.all(files.map(async (f) => openSafetensors(await openNodeFileSource(path.join(DIR, f))))));
    const unet = await UNetMotion.load(e, w.unet!, hyperParamsFromDiffusers(config.unet_config, config.motion_adapter_config), { semantics: 'diffusers' });
    const sample = inputs.get('sample')!;
    const [, C, F, H, W] = sample.shape;
    const B = 1; // the first sample only (time: frame chunks need one sample per pass anyway)
    const text = inputs.get('encoder_hidden_states')!;
    const [, T, D] = text.shape;
    // The sample's values in NHWC frame order; the layout does not matter for these comparisons.
    const lat = e.upload(Float32Array.from(sample.data.subarray(0, F * C * H * W)), [B * F, H, W, C]);
    const t = [501];
    const run = async (txt: Float32Array, rows: number, maxTensorBytes?: number): Promise<Float32Array> => {
      const tt = e.upload(txt, [rows, T, D]);
      try {
        const y: Tensor = unet.forward(lat, t, tt, F, { maxTensorBytes });
        try {
          return await e.read(y);
        } finally {
          y.release();
        }
      } finally {
        tt.release();
      }
    };
    try {
      const perSample = await run(Float32Array.from(text.data.subarray(0, T * D)), B);
      const repeated = new Float32Array(B * F * T * D);
      for (let n = 0; n < B * F; n++) repeated.set(text.data.subarray(Math.floor(n / F) * T * D, (Math.floor(n / F) + 1) * T * D), n * T * D);
      const rep = await run(repeated, B * F);
      const scale = maxAbsDiff(new Float32Array(perSample.length), perSample).refMax;
      expect(maxAbsDiff(rep, perSample).maxAbs).toBeLessThan(1e-5 * scale);

      // Each frame its own text: the sample's text blended with a random one, more of it frame by frame.
      const other = randn(T * D, 11);
      const travel = new Float32Array(B * F * T * D);
      for (let n = 0; n < B * F; n++) {
        const a = (n % F) / (F - 1), b = Math.floor(n / F);
        for (let i = 0; i < T * D; i++) travel[n * T * D + i] = (1 - a) * text.data[b * T * D + i] + a * other[i];
      }
      const whole = await run(travel, B * F);
      expect(maxAbsDiff(whole, perSample).maxAbs).toBeGreaterThan(1e-2 * scale);
      const limit = Math.max(...levelWidths(unet.topology, H, W).map((l) => F * l.h * l.w * l.hidden * 4));
      const plan = planUNetChunking(unet.topology, { batch: B, frames: F, h: H, w: W }, { maxTensorBytes: limit, align: e.limits.minStorageBufferOffsetAlignment, bytesPerValue: 4 });
      expect(plan.levels.some((l) => l.spatialFrames < F)).toBe(true);
      const chunked = await run(travel, B * F, limit);
      expect(maxAbsDiff(chunked, whole).maxAbs).toBeLessThan(1e-5 * scale);
    } finally {
      lat.release();
      unet.release();
    }
  }, 600_000);
});
