// AnimateDiff motion module vs the oracle (motion_module/vA: diffusers AnimateDiffTransformer3D and the original
// VanillaTemporalModule on the same random weights, 2 transformer blocks, non-square 4×6 positions, 2 clips × 16 frames).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile, type RefTensor } from '../../src/conformance/tensor-file';
import { MotionModule } from '../../src/models/motion-module';
import type { WeightMap } from '../../src/weights/weight-map';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors } from '../../src/weights/safetensors';
import { cannotRun, testEngine } from '../gpu';
import { maxAbsDiff } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/motion_module/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');
const outputs = parseTensorFile(readFileSync(path.join(DIR, 'outputs.safetensors')), 'outputs');

/** A weight file through the project's loader (src/weights): canonical diffusers names whatever the layout. */
async function canonical(file: string): Promise<WeightMap> {
  const loaded = await loadWeights([await openSafetensors(await openNodeFileSource(path.join(DIR, file)))]);
  if (!loaded.unet) throw new Error(`${file}: the loader found no motion module`);
  return loaded.unet;
}

/** NCHW float64 reference → NHWC float32 (upload order). */
function nchwToNhwc(t: RefTensor): Float32Array {
  const [n, c, h, w] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[(i * h * w + p) * c + ch] = t.data[(i * c + ch) * h * w + p];
  return out;
}

const cfg = config.diffusers_config;
const frames: number = config.input.num_frames;
const x = inputs.get('hidden_states')!;
const [nf, C, H, W] = x.shape;
const refMax = (name: string) => outputs.get(name)!.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('MotionModule (motion_module/vA)', () => {
  const cases = [
    { out: 'out_diffusers', framesPerGroup: frames, what: 'diffusers semantics (GroupNorm pooled over frames)' },
    { out: 'out_original', framesPerGroup: 1, what: 'official semantics (GroupNorm per frame)' },
  ] as const;

  const runs = [
    { precision: 'f32', layout: 'diffusers', file: 'weights_diffusers.safetensors' },
    { precision: 'f32', layout: 'original', file: 'weights_original.safetensors' },
    { precision: 'f16', layout: 'diffusers', file: 'weights_diffusers.safetensors' },
  ] as const;
  for (const { precision, layout, file } of runs) {
    it.skipIf(cannotRun(precision))(`matches ${cases.map((c) => c.out).join(' and ')} (${precision}, ${layout} layout)`, async () => {
      const e = await testEngine(precision);
      const before = e.pool.stats().buffersInUse;
      const mm = await MotionModule.load(e, await canonical(file), {
        heads: cfg.num_attention_heads, groups: cfg.norm_num_groups, peLength: cfg.num_positional_embeddings,
      });
      const loaded = e.pool.stats().buffersInUse;
      const xt = e.upload(nchwToNhwc(x), [nf, H, W, C]);
      for (const c of cases) {
        const y = mm.forward(e, xt, frames, c.framesPerGroup);
        expect(y.shape).toEqual([nf, H, W, C]);
        const got = await e.read(y);
        y.release();
        const ref = nchwToNhwc(outputs.get(`${c.out}_f64`)!);
        const { maxAbs } = maxAbsDiff(got, ref);
        const tol = config.recommended_tolerance_f32[c.out];
        // f32: the oracle's bound max(atol, rel·max|ref|) = 20× the float32-vs-float64 error of PyTorch itself;
        // f16: 2e-2 of the output maximum (README: f16 single modules; measured f16 error there is 1e-3 relative).
        const bound = precision === 'f32' ? Math.max(tol.atol, tol.rel_to_ref_max * refMax(c.out)) : 2e-2 * refMax(c.out);
        console.log(`${precision} ${layout} ${c.out}: max_abs ${maxAbs.toExponential(2)} (bound ${bound.toExponential(2)})`);
        expect(maxAbs, c.what).toBeLessThan(bound);
      }
      xt.release();
      expect(e.pool.stats().buffersInUse, 'activations released').toBe(loaded);
      mm.release();
      // +1 at most: the GEMM ops keep one placeholder tensor per engine for absent optional inputs.
      expect(e.pool.stats().buffersInUse, 'weights released').toBeLessThanOrEqual(before + 1);
    });
  }

  it('the two semantics differ by far more than the tolerance (the switch is real)', () => {
    const d = maxAbsDiff(outputs.get('out_diffusers_f64')!.data, outputs.get('out_original_f64')!.data).maxAbs;
    expect(d).toBeGreaterThan(100 * config.recommended_tolerance_f32.out_diffusers.atol);
  });

  it('names a missing weight and leaks nothing', async () => {
    const e = await testEngine('f32');
    const full = await canonical('weights_diffusers.safetensors');
    const broken: WeightMap = { ...full, has: (k) => k !== 'transformer_blocks.1.attn2.to_v.weight' && full.has(k) };
    const before = e.pool.stats().buffersInUse;
    await expect(MotionModule.load(e, broken, { heads: 8, groups: 32 })).rejects.toThrow(/transformer_blocks\.1\.attn2\.to_v\.weight/);
    expect(e.pool.stats().buffersInUse).toBe(before);
  });
});
