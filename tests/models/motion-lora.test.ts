// MotionLoRA vs the oracle (motion_lora/vA): the base UNet + motion modules of unet_motion_tiny/vA with a rank-4
// LoRA on to_q/to_k/to_v/to_out.0 of both temporal attentions of every motion module, merged by the project's
// loader (src/weights: W_eff = W + s·up@down) at s = 1.0 and 0.5, in both key layouts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile, type RefTensor } from '../../src/conformance/tensor-file';
import { hyperParamsFromDiffusers, type Semantics } from '../../src/models/config';
import { UNetMotion } from '../../src/models/unet';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors } from '../../src/weights/safetensors';
import type { WeightMap } from '../../src/weights/weight-map';
import { testEngine } from '../gpu';
import { maxAbsDiff } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/motion_lora/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const BASE = path.resolve(DIR, config.base_model.trim().split(/\s+/)[0]);
const baseConfig = JSON.parse(readFileSync(path.join(BASE, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');
const outputs = parseTensorFile(readFileSync(path.join(DIR, 'outputs.safetensors')), 'outputs');
const hyper = hyperParamsFromDiffusers(baseConfig.unet_config, baseConfig.motion_adapter_config);

const LAYOUTS = {
  diffusers: { base: ['unet_diffusers.safetensors', 'motion_adapter_diffusers.safetensors'], lora: 'motion_lora_diffusers.safetensors' },
  original: { base: ['unet_ldm.safetensors', 'motion_module_original.safetensors'], lora: 'motion_lora_original.safetensors' },
} as const;
type Layout = keyof typeof LAYOUTS;

const open = async (file: string) => openSafetensors(await openNodeFileSource(file));

/** Base weights through the loader, with the layout's MotionLoRA merged at `strength` (none when null). */
async function weights(layout: Layout, strength: number | null): Promise<WeightMap> {
  const l = LAYOUTS[layout];
  const base = await Promise.all(l.base.map((f) => open(path.join(BASE, f))));
  const loras = strength === null ? [] : [{ file: await open(path.join(DIR, l.lora)), strength }];
  const loaded = await loadWeights(base, { loras });
  if (!loaded.unet) throw new Error('the loader found no UNet');
  return loaded.unet;
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
const absMax = (a: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i])); return m; };

const sample = inputs.get('sample')!;
const [B, , F, H, W] = sample.shape;
const text = inputs.get('encoder_hidden_states')!;
const timesteps = Array.from(inputs.get('timestep')!.data);

/** Load with the LoRA at `strength`, run once, compare `name` with its reference at the oracle's f32 tolerance. */
async function checkOutput(layout: Layout, strength: number | null, semantics: Semantics, name: string): Promise<void> {
  const e = await testEngine('f32');
  const before = e.pool.stats().buffersInUse;
  const unet = await UNetMotion.load(e, await weights(layout, strength), hyper);
  const lat = e.upload(videoToFramesNhwc(sample), [B * F, H, W, 4]);
  const txt = e.upload(Float32Array.from(text.data), text.shape);
  const y = unet.forward(lat, timesteps, txt, F, { semantics });
  const got = await e.read(y);
  for (const t of [y, lat, txt]) t.release();
  unet.release();
  expect(e.pool.stats().buffersInUse).toBeLessThanOrEqual(before + 1); // +1: GEMM placeholder
  const ref = videoToFramesNhwc(outputs.get(`${name}_f64`) ?? outputs.get(name)!);
  // The oracle's bound max(atol, rel·max|ref|) (20× PyTorch's float32 error); outputs without an entry
  // (out_no_lora: float32 reference only) use the README's single-module rule, 2e-5 relative, at least 1e-4.
  const tol = config.recommended_tolerance_f32[name] ?? { atol: 1e-4, rel_to_ref_max: 2e-5 };
  const bound = Math.max(tol.atol, tol.rel_to_ref_max * absMax(ref));
  const { maxAbs } = maxAbsDiff(got, ref);
  console.log(`${name} [${layout}]: max_abs ${maxAbs.toExponential(2)} (bound ${bound.toExponential(2)})`);
  expect(maxAbs, name).toBeLessThan(bound);
}

describe('MotionLoRA (motion_lora/vA)', () => {
  it('the loader merges W + s·up@down into every targeted weight (both layouts, float64 check)', async () => {
    const plain = await weights('diffusers', null);
    const lf = await open(path.join(DIR, LAYOUTS.diffusers.lora));
    const s = 0.5;
    const targets = [...lf.tensors.keys()].filter((k) => k.endsWith('.down.weight'));
    expect(targets.length).toBe(config.lora.num_lora_layers_loaded_by_peft);
    const merged = { diffusers: await weights('diffusers', s), original: await weights('original', s) };
    for (const downKey of targets) {
      // unet.<module>.processor.to_q_lora.down.weight → <module>.to_q.weight (to_out → to_out.0)
      const m = /^unet\.(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.down\.weight$/.exec(downKey)!;
      const target = `${m[1]}.${m[2] === 'to_out' ? 'to_out.0' : m[2]}.weight`;
      const down = await lf.read(downKey), up = await lf.read(downKey.replace('.down.', '.up.'));
      const [R, K] = lf.tensors.get(downKey)!.shape;
      const w = await plain.read(target);
      const N = w.length / K;
      const want = new Float64Array(w.length);
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
        let acc = 0;
        for (let r = 0; r < R; r++) acc += up[n * R + r] * down[r * K + k];
        want[n * K + k] = w[n * K + k] + s * acc;
      }
      for (const layout of ['diffusers', 'original'] as const) {
        // float32 storage of the merged value: within one rounding of the float64 sum
        expect(maxAbsDiff(await merged[layout].read(target), want).maxAbs, `${layout} ${target}`).toBeLessThan(1e-6 * (absMax(want) + 1));
      }
    }
  });

  it('out_scale1.0 (diffusers layout, diffusers semantics)', () => checkOutput('diffusers', 1.0, 'diffusers', 'out_scale1.0'), 400_000);
  it('out_scale1.0_official (diffusers layout)', () => checkOutput('diffusers', 1.0, 'official_animatediff', 'out_scale1.0_official'), 400_000);
  it('out_scale0.5_official (LDM + original motion module + original MotionLoRA)', () => checkOutput('original', 0.5, 'official_animatediff', 'out_scale0.5_official'), 400_000);
  it('out_no_lora (diffusers semantics)', () => checkOutput('diffusers', null, 'diffusers', 'out_no_lora'), 400_000);
});
