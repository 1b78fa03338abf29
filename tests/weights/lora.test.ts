// LoRA merging: W_eff = W + strength·(alpha/rank if alpha)·(up @ down), checked against an independent float64
// reference on the oracle MotionLoRA (original and diffusers layouts) and on synthetic kohya / PEFT / conv LoRAs.
// Tolerance 2e-6 absolute on O(1) weights: the implementation rounds an f64 result to f32 once (error ≤ 6e-8 per
// element); a transposed or mis-indexed up/down product is off by O(0.1).
import { describe, expect, it } from 'vitest';
import { detectLayout, loadWeights } from '../../src/weights/load';
import { parseLora } from '../../src/weights/lora';
import { expectedTextShapes, inferTextConfig } from '../../src/weights/layouts/expected';
import { openSafetensorsBytes, writeSafetensors, type SafetensorsFile, type TensorToWrite } from '../../src/weights/safetensors';
import type { WeightMap } from '../../src/weights/weight-map';
import { maxAbsDiff, randn } from '../random';
import { oracleFiles } from '../oracle';

const open = oracleFiles();

/** Reference: W[o, i] + factor · Σ_r up[o, r]·down[r, i], looping i outermost (a different order than the code). */
function reference(w: Float32Array, down: Float32Array, up: Float32Array, rank: number, factor: number): Float64Array {
  const inner = down.length / rank, out = up.length / rank;
  const res = new Float64Array(w.length);
  for (let i = 0; i < inner; i++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let r = 0; r < rank; r++) s += up[o * rank + r] * down[r * inner + i];
      res[o * inner + i] = w[o * inner + i] + factor * s;
    }
  }
  return res;
}

async function expectMerged(merged: WeightMap, base: WeightMap, target: string, lora: SafetensorsFile, downKey: string, upKey: string, factor: number) {
  const [w, m, d, u] = await Promise.all([base.read(target), merged.read(target), lora.read(downKey), lora.read(upKey)]);
  const rank = lora.tensors.get(downKey)!.shape[0];
  const { maxAbs } = maxAbsDiff(m, reference(w, d, u, rank, factor));
  expect(maxAbs, target).toBeLessThan(2e-6);
  expect(maxAbsDiff(m, w).maxAbs, `${target} changed`).toBeGreaterThan(1e-3);
}

describe('MotionLoRA (oracle)', () => {
  it('original and diffusers layouts give the same pairs and the same merged weights', async () => {
    const base = [await open('unet_motion_tiny/vA/unet_diffusers.safetensors'), await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors')];
    const plain = await loadWeights(base);
    const origFile = await open('motion_lora/vA/motion_lora_original.safetensors');
    const diffFile = await open('motion_lora/vA/motion_lora_diffusers.safetensors');
    const orig = await parseLora(origFile), diff = await parseLora(diffFile);
    expect(orig).toMatchObject({ kind: 'motion-lora', layout: 'original' });
    expect(diff).toMatchObject({ kind: 'motion-lora', layout: 'diffusers-processor' });
    expect(orig.pairs.length).toBe(168);
    expect(orig.pairs.map((p) => p.target).sort()).toEqual(diff.pairs.map((p) => p.target).sort());
    expect(orig.pairs.every((p) => p.scale === 1 && p.rank === 4)).toBe(true);

    const a = await loadWeights(base, { loras: [{ file: origFile, strength: 0.5 }] });
    const b = await loadWeights(base, { loras: [{ file: diffFile, strength: 0.5 }] });
    for (const p of orig.pairs) {
      const [x, y] = await Promise.all([a.unet!.read(p.target), b.unet!.read(p.target)]);
      expect(new Uint32Array(x.buffer)).toEqual(new Uint32Array(y.buffer));
    }
    for (const p of orig.pairs.filter((_, i) => i % 7 === 0)) await expectMerged(a.unet!, plain.unet!, p.target, origFile, p.downKey, p.upKey, 0.5);
    // Untouched weights pass through unchanged.
    for (const k of ['conv_in.weight', 'mid_block.motion_modules.0.proj_in.weight', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight']) {
      expect(Array.from(await a.unet!.read(k))).toEqual(Array.from(await plain.unet!.read(k)));
    }
  });
});

/**
 * The oracle's tiny CLIP (width 12) does not fit its tiny UNet (cross-attention width 32: separate oracle sets), and
 * loading refuses such a pair; this is that CLIP's shape table at the UNet's width (32), with random values.
 */
async function clipAtUnetWidth(unet: SafetensorsFile): Promise<SafetensorsFile> {
  const width = unet.tensors.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')!.shape[1];
  const clip = await open('clip_text_tiny/vA/text_encoder_transformers.safetensors');
  const table = expectedTextShapes({ ...inferTextConfig(new Map([...clip.tensors].map(([k, v]) => [k, v.shape]))), width });
  let seed = 100;
  return openSafetensorsBytes(writeSafetensors([...table].map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: randn(shape.reduce((a, b) => a * b, 1), seed++, 0.1) }))), 'text_encoder.safetensors');
}

describe('SD LoRA (synthetic kohya / PEFT / conv)', () => {
  const r = 4;
  const t = (name: string, shape: number[], seed: number, scale = 0.3): TensorToWrite => ({ name, dtype: 'F32', shape, data: randn(shape.reduce((a, b) => a * b, 1), seed, scale) });

  it('kohya (diffusers and LDM module names, alpha, conv 3×3, linear LoRA on a 1×1-conv proj_in, text encoder)', async () => {
    const unet = await open('unet_motion_tiny/vA/unet_diffusers.safetensors');
    const clip = await clipAtUnetWidth(unet);
    const loraBytes = writeSafetensors([
      t('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight', [r, 16], 1),
      t('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight', [16, r], 2),
      { name: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha', dtype: 'F32', shape: [], data: [2] },
      t('lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight', [r, 16, 3, 3], 3),
      t('lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight', [16, r, 1, 1], 4),
      t('lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', [r, 16], 5),
      t('lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', [16, r], 6),
      t('lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_down.weight', [r, 32], 7), // LDM spelling
      t('lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_up.weight', [16, r], 8),
      t('lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', [r, 32], 9),
      t('lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', [32, r], 10),
      { name: 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha', dtype: 'F32', shape: [], data: [1] },
    ]);
    const lora = await openSafetensorsBytes(loraBytes, 'style.safetensors');
    expect(await detectLayout(lora)).toEqual({ kind: 'sd-lora', layout: 'kohya', components: [] });
    const plain = await loadWeights([unet, clip]);
    const w = await loadWeights([unet, clip], { loras: [{ file: lora, strength: 0.8 }] });
    expect(w.warnings).toEqual([]);
    const P = 'lora_unet_down_blocks_0_';
    await expectMerged(w.unet!, plain.unet!, 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight', lora, `${P}attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight`, `${P}attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight`, 0.8 * 2 / r);
    await expectMerged(w.unet!, plain.unet!, 'down_blocks.0.resnets.0.conv1.weight', lora, `${P}resnets_0_conv1.lora_down.weight`, `${P}resnets_0_conv1.lora_up.weight`, 0.8);
    await expectMerged(w.unet!, plain.unet!, 'down_blocks.0.attentions.0.proj_in.weight', lora, `${P}attentions_0_proj_in.lora_down.weight`, `${P}attentions_0_proj_in.lora_up.weight`, 0.8);
    await expectMerged(w.unet!, plain.unet!, 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight', lora, 'lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_down.weight', 'lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_up.weight', 0.8);
    await expectMerged(w.textEncoder!, plain.textEncoder!, 'text_model.encoder.layers.0.self_attn.q_proj.weight', lora, 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', 0.8 / r);
  });

  it('PEFT lora_A/lora_B with unet./text_encoder. prefixes', async () => {
    const unet = await open('unet_motion_tiny/vA/unet_diffusers.safetensors');
    const clip = await clipAtUnetWidth(unet);
    const lora = await openSafetensorsBytes(writeSafetensors([
      t('unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v.lora_A.weight', [r, 32], 11),
      t('unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v.lora_B.weight', [32, r], 12),
      t('text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_A.weight', [r, 32], 13),
      t('text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_B.weight', [48, r], 14),
    ]), 'peft.safetensors');
    const parsed = await parseLora(lora);
    expect(parsed).toMatchObject({ kind: 'sd-lora', layout: 'peft' });
    const plain = await loadWeights([unet, clip]);
    const w = await loadWeights([unet, clip], { loras: [{ file: lora, strength: 1.5 }] });
    await expectMerged(w.unet!, plain.unet!, 'up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v.weight', lora, 'unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v.lora_A.weight', 'unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v.lora_B.weight', 1.5);
    await expectMerged(w.textEncoder!, plain.textEncoder!, 'text_model.encoder.layers.1.mlp.fc1.weight', lora, 'text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_A.weight', 'text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_B.weight', 1.5);
  });

  it('rejects mismatched, unresolvable and unsupported LoRAs', async () => {
    const unet = await open('unet_motion_tiny/vA/unet_diffusers.safetensors');
    const mk = (ts: TensorToWrite[], name = 'bad.safetensors') => openSafetensorsBytes(writeSafetensors(ts), name);
    // rank disagreement between down and up
    await expect(parseLora(await mk([t('unet.conv_in.lora_A.weight', [4, 4, 3, 3], 1), t('unet.conv_in.lora_B.weight', [16, 3], 2)]))).rejects.toMatchObject({ code: 'lora-mismatch' });
    // a LoRA made for the full-size model: shapes do not fit
    const big = await mk([t('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight', [r, 320], 1), t('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight', [320, r], 2)]);
    await expect(loadWeights([unet], { loras: [{ file: big, strength: 1 }] })).rejects.toMatchObject({
      code: 'lora-mismatch', message: expect.stringMatching(/^bad\.safetensors: LoRA for "down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q\.weight": up \[320,4\] @ down \[4,320\] does not fit the weight's shape \[16,16\]/),
    });
    // kohya names that match nothing in the base
    const kohya = await mk([t('lora_unet_nonexistent_block.lora_down.weight', [r, 8], 1), t('lora_unet_nonexistent_block.lora_up.weight', [8, r], 2)]);
    await expect(loadWeights([unet], { loras: [{ file: kohya, strength: 1 }] })).rejects.toMatchObject({ code: 'lora-mismatch' });
    // LoHa
    await expect(parseLora(await mk([t('lora_unet_x.hada_w1_a', [4, 4], 1)]))).rejects.toMatchObject({ code: 'unknown-layout', message: expect.stringMatching(/LoHa/) });
    // a text-encoder LoRA without a text encoder loaded
    const te = await mk([t('text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight', [r, 12], 1), t('text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight', [48, r], 2)]);
    await expect(loadWeights([unet], { loras: [{ file: te, strength: 1 }] })).rejects.toMatchObject({ code: 'lora-mismatch', message: expect.stringMatching(/text encoder, which no loaded file provides/) });
  });
});
