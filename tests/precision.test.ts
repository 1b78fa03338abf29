// The two-part precision setting (src/pipeline/precision.ts): what 'auto' resolves to, and which settings are refused.
import { describe, expect, it } from 'vitest';
import { checkPrecisionSetting, engineRequestFor, PrecisionError, resolvePrecision, weightFormatOf } from '../src/pipeline/precision';

describe('precision setting', () => {
  it('auto: f16 activations with shader-f16, else f32; weights in that float type without a memory verdict', async () => {
    expect(await resolvePrecision({ activations: 'auto', weights: 'auto' }, { f16: true })).toEqual({ activations: 'f16', weights: 'f16' });
    expect(await resolvePrecision({ activations: 'auto', weights: 'auto' }, { f16: false })).toEqual({ activations: 'f32', weights: 'f32' });
  });

  it('auto weights: the widest precision the planner accepts (float, then int8, then int4)', async () => {
    const asked: string[] = [];
    const fitsInt8 = (p: { weights: string }) => { asked.push(p.weights); return p.weights === 'int8' || p.weights === 'int4'; };
    expect(await resolvePrecision({ activations: 'auto', weights: 'auto' }, { f16: true }, fitsInt8)).toEqual({ activations: 'f16', weights: 'int8' });
    expect(asked).toEqual(['f16', 'int8']);
    expect(await resolvePrecision({ activations: 'f32', weights: 'auto' }, { f16: true }, () => false)).toEqual({ activations: 'f32', weights: 'int4' });
  });

  it('float weights pin the activations; quantized weights go with either', async () => {
    expect(await resolvePrecision({ activations: 'auto', weights: 'f32' }, { f16: true })).toEqual({ activations: 'f32', weights: 'f32' });
    expect(engineRequestFor({ activations: 'auto', weights: 'f32' })).toBe('f32');
    expect(engineRequestFor({ activations: 'auto', weights: 'int4' })).toBe('auto');
    expect(await resolvePrecision({ activations: 'f32', weights: 'int8' }, { f16: false })).toEqual({ activations: 'f32', weights: 'int8' });
    await expect(resolvePrecision({ activations: 'f32', weights: 'f16' }, { f16: true })).rejects.toThrow(/f16 weights run with f16 activations/);
    await expect(resolvePrecision({ activations: 'f16', weights: 'int4' }, { f16: false })).rejects.toBeInstanceOf(PrecisionError);
    await expect(resolvePrecision({ activations: 'auto', weights: 'f16' }, { f16: false })).rejects.toThrow(/shader-f16/);
    expect(weightFormatOf({ activations: 'f16', weights: 'f16' })).toBe('float');
    expect(weightFormatOf({ activations: 'f16', weights: 'int4' })).toBe('int4');
  });

  it('refuses malformed settings with a message naming the part', () => {
    expect(() => checkPrecisionSetting('auto')).toThrow(/\{ activations, weights \}/);
    expect(() => checkPrecisionSetting({ activations: 'bf16', weights: 'auto' })).toThrow(/activation precision/);
    expect(() => checkPrecisionSetting({ activations: 'auto', weights: 'int2' })).toThrow(/weight precision/);
    expect(checkPrecisionSetting({ activations: 'f16', weights: 'int8' })).toEqual({ activations: 'f16', weights: 'int8' });
  });
});
