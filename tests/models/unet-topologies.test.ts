// UNetMotion on topologies the oracle does not have (3 and 5 levels, widths that are not SD1.5's 1:2:4:4, per-block
// head counts) at latent sizes not divisible by the total downsampling (diffusers' upsample_size path), against the
// float64 CPU reference of tests/ref/unet.ts on random weights and inputs.
import { describe, expect, it } from 'vitest';
import { inferUNetTopology, type UNetHyperParams } from '../../src/models/config';
import { UNetMotion } from '../../src/models/unet';
import { testEngine } from '../gpu';
import { maxAbsDiff, randn } from '../random';
import { type TinyUNetSpec, tinyUNetWeights, unetRef } from '../ref/unet';

const CASES: { name: string; spec: TinyUNetSpec; h: number; w: number; frames: number }[] = [
  {
    name: '3 levels [16, 24, 32], heads [2, 3, 4], no mid motion, latent 9×7',
    spec: { channels: [16, 24, 32], attention: [true, true, false], layersPerBlock: 1, crossDim: 12, heads: [2, 3, 4], groups: 8, motionHeads: 2, motionGroups: 8, midMotion: false },
    h: 9, w: 7, frames: 3,
  },
  {
    name: '5 levels [8, 16, 16, 24, 32], 2 layers per block, mid motion, latent 11×13',
    spec: { channels: [8, 16, 16, 24, 32], attention: [false, true, true, true, false], layersPerBlock: 2, crossDim: 8, heads: [1, 2, 2, 3, 4], groups: 4, motionHeads: 2, motionGroups: 4, midMotion: true },
    h: 11, w: 13, frames: 2,
  },
];

describe('UNetMotion: any topology, any latent size (float64 reference)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const e = await testEngine('f32');
      const weights = tinyUNetWeights(c.spec, 1000);
      const hyper: UNetHyperParams = { heads: c.spec.heads, normGroups: c.spec.groups, normEps: 1e-5, motionHeads: c.spec.motionHeads, motionNormGroups: c.spec.motionGroups };
      const topo = inferUNetTopology(weights);
      expect(topo.down.map((d) => d.channels)).toEqual(c.spec.channels);
      expect(topo.down.filter((d) => d.resample).length).toBe(c.spec.channels.length - 1);
      const unet = await UNetMotion.load(e, weights, hyper);
      expect(c.h % unet.downsampleFactor !== 0 || c.w % unet.downsampleFactor !== 0).toBe(true); // the upsample_size path
      const b = 2, tokens = 5, F = c.frames;
      const lat = randn(b * F * c.h * c.w * 4, 7);
      const text = randn(b * tokens * c.spec.crossDim, 8);
      const ts = [801, 17];
      const tl = e.upload(lat, [b * F, c.h, c.w, 4]);
      const tt = e.upload(text, [b, tokens, c.spec.crossDim]);
      const y = unet.forward(tl, ts, tt, F);
      expect(y.shape).toEqual([b * F, c.h, c.w, 4]);
      const got = await e.read(y);
      for (const t of [tl, tt, y]) t.release();
      unet.release();
      const ref = unetRef(weights, c.spec, lat, b, F, c.h, c.w, ts, text, tokens);
      const { maxAbs, refMax } = maxAbsDiff(got, ref);
      console.log(`${c.name}: max_abs ${maxAbs.toExponential(2)} of max ${refMax.toFixed(3)}`);
      // f32 through ~50 layers: ~1e-5 relative; a wrong upsample index, skip or head split is O(refMax).
      expect(maxAbs).toBeLessThan(2e-4 * refMax);
    }, 300_000);
  }
});
