// MotionLoRA vs the oracle (motion_lora/vA): the base UNet + motion modules of unet_motion_tiny/vA with a rank-4
// LoRA on to_q/to_k/to_v/to_out.0 of both temporal attentions of every motion module, merged by the project's
// loader (src/weights: W_eff = W + s·up@down) at s = 1.0 and 0.5, in both key layouts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors } from '../../src/weights/safetensors';
import type { WeightMap } from '../../src/weights/weight-map';
import { maxAbsDiff } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/motion_lora/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const BASE = path.resolve(DIR, config.base_model.trim().split(/\s+/)[0]);

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

const absMax = (a: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i])); return m; };


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

  // The UNet outputs with the merged LoRA (every scale, both layouts, both semantics) are compared by the
  // conformance harness (tests/conformance.test.ts, src/conformance/sets/motion_lora.ts).
});
