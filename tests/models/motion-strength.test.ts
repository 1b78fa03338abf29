// Motion strength s at UNet level on the oracle's tiny UNetMotionModel (unet_motion_tiny/vA):
// s = 0 equals the UNet without motion modules (the same weights minus `motion_modules.*`), frame by frame;
// s = 1 equals the reference (the oracle's float64 output) and the plain call bit for bit.
// (The float64 CPU check at s = 0.5 is in motion-freenoise.test.ts, module level.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile, type RefTensor } from '../../src/conformance/tensor-file';
import { hyperParamsFromDiffusers } from '../../src/models/config';
import type { WeightMap } from '../../src/weights/weight-map';
import { UNetMotion } from '../../src/models/unet';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors } from '../../src/weights/safetensors';
import { testEngine } from '../gpu';
import { maxAbsDiff } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/unet_motion_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');
const outputs = parseTensorFile(readFileSync(path.join(DIR, 'outputs.safetensors')), 'outputs');
const hyper = hyperParamsFromDiffusers(config.unet_config, config.motion_adapter_config);

async function canonical(): Promise<WeightMap> {
  const files = ['unet_diffusers.safetensors', 'motion_adapter_diffusers.safetensors'];
  const loaded = await loadWeights(await Promise.all(files.map(async (f) => openSafetensors(await openNodeFileSource(path.join(DIR, f))))));
  return loaded.unet!;
}

/** (b, c, f, h, w) → [b*f, h, w, c]. */
function videoToFramesNhwc(t: RefTensor): Float32Array {
  const [b, c, f, h, w] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < b; i++) for (let ch = 0; ch < c; ch++) for (let fr = 0; fr < f; fr++) for (let p = 0; p < h * w; p++) {
    out[((i * f + fr) * h * w + p) * c + ch] = t.data[(((i * c + ch) * f + fr) * h * w) + p];
  }
  return out;
}

const sample = inputs.get('sample')!;
const [B, C, F, H, W] = sample.shape;
const text = inputs.get('encoder_hidden_states')!;
const t501 = Array.from(inputs.get('timestep_t501')!.data);

describe('motion strength in the UNet', () => {
  it('s = 0 is the UNet without motion modules, frame by frame; s = 1 is the reference', async () => {
    const e = await testEngine('f32');
    const full = await canonical();
    const unet = await UNetMotion.load(e, full, hyper, { semantics: 'diffusers' });
    // The same weights with every motion module removed: the topology then has none (a plain SD1.5 UNet).
    const spatialOnly: WeightMap = { ...full, has: (k) => !k.includes('motion_modules.') && full.has(k) };
    const plain = await UNetMotion.load(e, spatialOnly, hyper, { semantics: 'diffusers' });
    // Sample 0 of the oracle's batch (its F frames, timestep and text): the reference holds it in rows 0..F-1.
    const [, T, D] = text.shape;
    const x = e.upload(videoToFramesNhwc(sample).subarray(0, F * H * W * C), [F, H, W, C]);
    const txt = e.upload(Float32Array.from(text.data.subarray(0, T * D)), [1, T, D]);
    const t0 = [t501[0]];
    try {
      const read = async (t: ReturnType<UNetMotion['forward']>) => { try { return await e.read(t); } finally { t.release(); } };
      const zero = await read(unet.forward(x, t0, txt, F, { motion: { strength: 0 } }));
      // Every frame as a sample of its own (frames = 1) through the motion-free UNet, with the sample's timestep
      // and text: one call, F independent single-frame samples.
      const perFrameText = new Float32Array(F * T * D);
      for (let f = 0; f < F; f++) perFrameText.set(text.data.subarray(0, T * D), f * T * D);
      const tf = e.upload(perFrameText, [F, T, D]);
      const frameByFrame = await read(plain.forward(x, new Array(F).fill(t0[0]), tf, 1));
      tf.release();
      const { maxAbs: worst, refMax } = maxAbsDiff(zero, frameByFrame);
      // Same kernels on the same per-frame data: only the batching differs (≈ float32 rounding).
      expect(refMax).toBeGreaterThan(0.1);
      expect(worst, `s = 0 vs no motion modules: max |diff| ${worst}`).toBeLessThan(1e-5 * refMax);

      const one = await read(unet.forward(x, t0, txt, F, { motion: { strength: 1 } }));
      const dflt = await read(unet.forward(x, t0, txt, F));
      expect(one).toEqual(dflt);
      const ref = videoToFramesNhwc(outputs.get('out_t501_f64')!).subarray(0, F * H * W * C);
      const d = maxAbsDiff(one, ref);
      const tol = config.recommended_tolerance_f32.out_t501;
      expect(d.maxAbs).toBeLessThan(Math.max(tol.atol, tol.rel_to_ref_max * d.refMax));
      // And s = 0 is far from the reference: the motion modules matter here.
      expect(maxAbsDiff(zero, ref).maxAbs).toBeGreaterThan(100 * tol.atol);
    } finally {
      x.release();
      txt.release();
      unet.release();
      plain.release();
    }
  }, 600_000);
});
