// NaN, ±Inf and absurdly large values in weights are refused at load, naming the file and the tensor: in a LoRA
// (when it is merged) and in the base model's files (when each tensor is read for upload).
import { describe, expect, it } from 'vitest';
import { WeightFileError } from '../../src/weights/errors';
import { checkFinite, MAX_WEIGHT_MAGNITUDE } from '../../src/weights/finite';
import { loadWeights } from '../../src/weights/load';
import { parseLora } from '../../src/weights/lora';
import { openSafetensorsBytes, type SafetensorsFile, writeSafetensors } from '../../src/weights/safetensors';
import { describeError } from '../../src/worker/errors';
import { oracleFiles } from '../oracle';

const open = oracleFiles();

/** A copy of `file` (as f32) with `poison` written into tensor `key` at index 3, saved as `name`. */
async function poisoned(file: SafetensorsFile, key: string, poison: number, name: string): Promise<SafetensorsFile> {
  const tensors = [];
  for (const [k, t] of file.tensors) {
    const data = await file.read(k);
    if (k === key) data[3] = poison;
    tensors.push({ name: k, dtype: 'F32' as const, shape: t.shape, data });
  }
  return openSafetensorsBytes(writeSafetensors(tensors, file.metadata), name);
}

async function rejection(p: Promise<unknown>): Promise<WeightFileError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(WeightFileError);
  return e as WeightFileError;
}

describe('non-finite weights', () => {
  it('a LoRA with NaN, Inf or huge values is refused when merged, naming the file and the tensor', async () => {
    const base = [await open('unet_motion_tiny/vA/unet_diffusers.safetensors'), await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors')];
    const loraFile = await open('motion_lora/vA/motion_lora_diffusers.safetensors');
    const pair = (await parseLora(loraFile)).pairs[5];
    for (const [poison, what] of [[NaN, /1 NaN/], [Infinity, /1 infinite/], [-1e30, /1 beyond ±65504/]] as const) {
      const bad = await poisoned(loraFile, pair.upKey, poison, 'bad_lora.safetensors');
      const w = await loadWeights(base, { loras: [{ file: bad, strength: 0.8 }] });
      const e = await rejection(w.unet!.read(pair.target));
      expect(e.code).toBe('non-finite');
      expect(e.file).toBe('bad_lora.safetensors');
      expect(e.message).toContain(`tensor "${pair.upKey}"`);
      expect(e.message).toMatch(what);
      expect(describeError(e)).toMatchObject({ kind: 'bad-values' });
      // The targets the poisoned tensor does not touch still read.
      const other = (await parseLora(bad)).pairs.find((p) => p.target !== pair.target)!;
      await expect(w.unet!.read(other.target)).resolves.toBeInstanceOf(Float32Array);
    }
  });

  it('a LoRA whose finite values overflow once merged is refused too', async () => {
    const base = [await open('unet_motion_tiny/vA/unet_diffusers.safetensors'), await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors')];
    const loraFile = await open('motion_lora/vA/motion_lora_diffusers.safetensors');
    const w = await loadWeights(base, { loras: [{ file: loraFile, strength: 1e12 }] });
    const target = (await parseLora(loraFile)).pairs[0].target;
    const e = await rejection(w.unet!.read(target));
    expect(e.message).toMatch(new RegExp(`merged into "${target.replace(/\./g, '\\.')}" at strength 1000000000000 has`));
  });

  it('base weights with NaN or Inf are refused when read, naming the file and the tensor', async () => {
    const unet = await open('unet_motion_tiny/vA/unet_diffusers.safetensors');
    const motion = await poisoned(await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors'), 'down_blocks.0.motion_modules.0.proj_in.weight', NaN, 'bad_motion.safetensors');
    const w = await loadWeights([unet, motion]);
    const e = await rejection(w.unet!.read('down_blocks.0.motion_modules.0.proj_in.weight'));
    expect(e.message).toMatch(/^bad_motion\.safetensors: tensor "down_blocks\.0\.motion_modules\.0\.proj_in\.weight" has 1 NaN of its \d+ values \(the first at index 3: NaN\)/);
    await expect(w.unet!.read('conv_in.weight')).resolves.toBeInstanceOf(Float32Array);
  });

  it('checks f16 bit patterns without decoding, and accepts the extremes of the valid range', () => {
    expect(() => checkFinite(new Uint16Array([0x3c00, 0x7bff, 0xfbff, 0x0001, 0x8000]), 'f16', 'f', 't')).not.toThrow();
    expect(() => checkFinite(new Uint16Array([0, 0x7c00]), 'f16', 'f', 't')).toThrow(/1 infinite of its 2 values \(the first at index 1: bits 0x7c00\)/);
    expect(() => checkFinite(new Uint16Array([0x7e00, 0xfc00]), 'f16', 'f', 't')).toThrow(/1 NaN, 1 infinite/);
    expect(() => checkFinite(new Float32Array([MAX_WEIGHT_MAGNITUDE, -MAX_WEIGHT_MAGNITUDE, 1e-45, 0]), 'f32', 'f', 't')).not.toThrow();
    expect(() => checkFinite(new Float32Array([65505, 0]), 'f32', 'f', 't')).toThrow(/1 beyond ±65504/);
  });
});
