// FreeNoise on a long clip with the oracle's tiny UNetMotionModel (unet_motion_tiny/vA weights, random input):
// 70 frames — more than the temporal-attention kernel takes at once (64), which only the windows make possible —
// and under the smallest binding limit src/plan accepts, so spatial layers run in frame chunks, motion attention
// (inside each window) in position chunks and feed-forwards in row chunks: the result must not change.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hyperParamsFromDiffusers } from '../../src/models/config';
import { UNetMotion } from '../../src/models/unet';
import { MAX_FRAMES } from '../../src/ops/temporal-attention';
import { levelWidths, planUNetChunking } from '../../src/plan/chunking';
import { freeNoiseSchedule } from '../../src/pipeline/freenoise';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors } from '../../src/weights/safetensors';
import { readFileSync } from 'node:fs';
import { testEngine } from '../gpu';
import { maxAbsDiff, randn } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/unet_motion_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));

describe('FreeNoise on 70 frames of the tiny UNet', () => {
  it('runs past the 64-frame attention limit and composes with every kind of chunking (same result)', async () => {
    const e = await testEngine('f32');
    const files = ['unet_diffusers.safetensors', 'motion_adapter_diffusers.safetensors'];
    const loaded = await loadWeights(await Promise.all(files.map(async (f) => openSafetensors(await openNodeFileSource(path.join(DIR, f))))));
    const unet = await UNetMotion.load(e, loaded.unet!, hyperParamsFromDiffusers(config.unet_config, config.motion_adapter_config), { semantics: 'diffusers' });
    const B = 2, F = 70, H = 8, W = 8, Cin = unet.topology.inChannels, D = unet.topology.crossAttentionDim;
    expect(F).toBeGreaterThan(MAX_FRAMES);
    const windows = freeNoiseSchedule(F, { length: 16, stride: 4, weighting: 'pyramid' }); // tail window [54, 70), 2 frames
    expect(windows.windows.at(-1)!.from).toBeGreaterThan(0);
    const x = e.upload(randn(B * F * H * W * Cin, 1), [B * F, H, W, Cin]);
    const txt = e.upload(randn(B * 77 * D, 2), [B, 77, D]);
    const levels = levelWidths(unet.topology, H, W);
    const limit = Math.max(...levels.map((l) => F * l.h * l.w * l.hidden * 4));
    const plan = planUNetChunking(unet.topology, { batch: B, frames: F, h: H, w: W }, { maxTensorBytes: limit, align: e.limits.minStorageBufferOffsetAlignment, bytesPerValue: 4 });
    expect(plan.samplesPerPass).toBe(1);
    expect(plan.levels.some((l) => l.spatialFrames < F)).toBe(true);
    expect(plan.levels.some((l) => l.motionPositions < l.h * l.w)).toBe(true);
    expect(plan.levels.some((l) => l.ffRows < F * l.h * l.w)).toBe(true);
    try {
      const run = async (maxTensorBytes?: number) => {
        const y = unet.forward(x, [501, 501], txt, F, { maxTensorBytes, motion: { windows } });
        try { return await e.read(y); } finally { y.release(); }
      };
      const whole = await run();
      const chunked = await run(limit);
      const d = maxAbsDiff(chunked, whole);
      expect(d.refMax).toBeGreaterThan(0.1);
      expect(d.maxAbs, `chunked vs whole: max |diff| ${d.maxAbs}`).toBeLessThan(1e-5 * d.refMax);
      // Without windows the motion modules would attend over all 70 frames at once: refused with a clear error.
      expect(() => unet.forward(x, [501, 501], txt, F)).toThrow(/frames must be 1\.\.64/);
    } finally {
      x.release();
      txt.release();
      unet.release();
    }
  }, 600_000);
});
