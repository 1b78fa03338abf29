// The one weight-access interface: tensors arrive in their stored precision (F16 stays f16 bits, BF16 → f16,
// F32 stays f32, F64 → f32), LoRA-merged ones as f32, and `read` is always the f32 view of `get`.
import { describe, expect, it } from 'vitest';
import { f16BitsToF32, toF16Array } from '../../src/gpu/half';
import { mergeLora, parseLora } from '../../src/weights/lora';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors, openSafetensorsBytes, writeSafetensors } from '../../src/weights/safetensors';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { fileWeightMap, hostToF32, memoryWeightMap, unionWeightMaps } from '../../src/weights/weight-map';
import { randn } from '../random';
import { VECTORS } from '../oracle';

describe('WeightMap', () => {
  it('keeps each tensor in its stored precision', async () => {
    const v = randn(37, 3);
    v[0] = 1 / 3; v[1] = -65504; v[2] = 1e-7; // an inexact value, f16's largest, an f16 subnormal
    const f = await openSafetensorsBytes(writeSafetensors([
      { name: 'f32', dtype: 'F32', shape: [37], data: v },
      { name: 'f16', dtype: 'F16', shape: [37], data: v },
      { name: 'bf16', dtype: 'BF16', shape: [37], data: v },
      { name: 'f64', dtype: 'F64', shape: [37], data: v },
    ]), 'mixed.safetensors');
    const w = fileWeightMap(f);
    const f32 = await w.get('f32');
    expect(f32.dtype).toBe('f32');
    expect(Array.from(f32.data)).toEqual(Array.from(v));
    const f16 = await w.get('f16');
    expect(f16.dtype).toBe('f16');
    expect(f16.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(f16.data)).toEqual(Array.from(toF16Array(v))); // the stored bits, untouched
    const bf16 = await w.get('bf16');
    expect(bf16.dtype).toBe('f16');
    // bf16 → f16 is exact inside f16's normal range: the f16 value equals the bf16 value.
    const bfAsF32 = await f.read('bf16');
    for (let i = 0; i < 37; i++) {
      if (Math.abs(bfAsF32[i]) >= 6.2e-5 && Math.abs(bfAsF32[i]) <= 65504) expect(f16BitsToF32(bf16.data[i]), `bf16[${i}]`).toBe(bfAsF32[i]);
    }
    expect((await w.get('f64')).dtype).toBe('f32');
    for (const n of ['f32', 'f16', 'bf16', 'f64']) expect(Array.from(await w.read(n))).toEqual(Array.from(hostToF32(await w.get(n))));
  });

  it('passes untouched weights through a LoRA merge in f16 and returns merged ones as f32', async () => {
    const C = 8, r = 2;
    const base = await openSafetensorsBytes(writeSafetensors([
      { name: 'transformer_blocks.0.attn1.to_q.weight', dtype: 'F16', shape: [C, C], data: randn(C * C, 1) },
      { name: 'transformer_blocks.0.attn1.to_k.weight', dtype: 'F16', shape: [C, C], data: randn(C * C, 2) },
    ]), 'base.safetensors');
    const lora = await openSafetensorsBytes(writeSafetensors([
      { name: 'transformer_blocks.0.attn1.processor.to_q_lora.down.weight', dtype: 'F32', shape: [r, C], data: randn(r * C, 3) },
      { name: 'transformer_blocks.0.attn1.processor.to_q_lora.up.weight', dtype: 'F32', shape: [C, r], data: randn(C * r, 4) },
    ]), 'lora.safetensors');
    const plain = fileWeightMap(base);
    const parsed = await parseLora(lora, { unet: plain });
    const merged = mergeLora(plain, parsed, 0.5).weights;
    expect((await merged.get('transformer_blocks.0.attn1.to_k.weight')).dtype).toBe('f16');
    const q = await merged.get('transformer_blocks.0.attn1.to_q.weight');
    expect(q.dtype).toBe('f32');
    expect(q.shape).toEqual([C, C]);
  });

  it('loadWeights hands out the tensors of an f16 file as f16, bit for bit', async () => {
    // The oracle's motion module (F32), re-stored as F16: the loader's maps must give back exactly the stored bits.
    const src = await openSafetensors(await openNodeFileSource(`${VECTORS}/motion_module/vA/weights_diffusers.safetensors`));
    const tensors = [];
    for (const [name, t] of src.tensors) tensors.push({ name, dtype: 'F16' as const, shape: t.shape, data: await src.read(name) });
    const f16 = await openSafetensorsBytes(writeSafetensors(tensors), 'mm_f16.safetensors');
    const loaded = await loadWeights([f16]);
    const unet = loaded.unet!;
    expect(unet.names().length).toBeGreaterThan(10);
    let compared = 0;
    for (const n of unet.names()) {
      const t = await unet.get(n);
      expect(t.dtype, n).toBe('f16');
      if (f16.tensors.has(n)) { // diffusers MotionAdapter keys are the canonical names
        expect(Array.from(t.data), n).toEqual(Array.from(new Uint16Array((await f16.readRaw(n)).slice().buffer)));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('unions maps by name and refuses unknown names with a typed error', async () => {
    const u = memoryWeightMap(new Map([['a', { dtype: 'f16' as const, shape: [2], data: Uint16Array.of(0x3c00, 0xc000) }]]));
    const both = unionWeightMaps([u, memoryWeightMap(new Map([['b', { dtype: 'f32' as const, shape: [1], data: Float32Array.of(7) }]]))]);
    expect((await both.get('a')).dtype).toBe('f16');
    expect(Array.from(await both.read('a'))).toEqual([1, -2]);
    expect(Array.from(await both.read('b'))).toEqual([7]);
    await expect(both.get('c')).rejects.toMatchObject({ code: 'missing-keys' });
  });
});
