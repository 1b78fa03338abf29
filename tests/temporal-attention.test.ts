import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { fromF16Array, toF16Array } from '../src/gpu/half';
import { sinusoidalPositionalEncoding } from '../src/ops/positional-encoding';
import { temporalAttention, temporalAttentionNaive } from '../src/ops/temporal-attention';
import { cannotRun, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import { temporalAttentionRef } from './ref/attention';
import { VECTORS } from '../tests/oracle';

// Tolerances as in attention.test.ts: outputs are convex combinations of v (|v| ≲ 4). f32: 2e-5
// (dot products of ≤ 8 terms + f32 exp); f16: inputs pre-rounded to f16 for the reference, so the
// output rounding (≤ 2e-3 at |x| < 4) dominates: 4e-3. A wrong frame/position/head is O(0.1..1).
const TOL = { f32: 2e-5, f16: 4e-3 } as const;
const asStored = (x: Float32Array, dtype: 'f32' | 'f16') => (dtype === 'f16' ? fromF16Array(toF16Array(x)) : x);

interface Case { b: number; frames: number; positions: number; heads: number; c: number; scale?: number }

async function check(e: Engine, c: Case, seed: number, impl = temporalAttention): Promise<Float32Array> {
  const qkv = asStored(randn(c.b * c.frames * c.positions * 3 * c.c, seed), e.dtype);
  const t = e.upload(qkv, [c.b * c.frames, c.positions, 3 * c.c]);
  const out = impl(e, t, { frames: c.frames, heads: c.heads, scale: c.scale });
  expect(out.shape).toEqual([c.b * c.frames, c.positions, c.c]);
  const got = await e.read(out);
  const { maxAbs, at } = maxAbsDiff(got, temporalAttentionRef(qkv, c));
  expect(maxAbs, `max |err| at ${at} (${JSON.stringify(c)})`).toBeLessThan(TOL[e.dtype]);
  t.release(); out.release();
  return got;
}

for (const dtype of ['f32', 'f16'] as const) {
  describe.skipIf(cannotRun(dtype))(`temporalAttention (${dtype})`, () => {
    const engine = () => testEngine(dtype);

    it('B=2, F=16, P=4×6, 8 heads of 8 (the oracle motion module shape)', async () => {
      const e = await engine();
      await check(e, { b: 2, frames: 16, positions: 24, heads: 8, c: 64 }, 1);
    });

    it('F=7 (positions per workgroup not dividing P=13), C=40 (D=5), custom scale', async () => {
      const e = await engine();
      await check(e, { b: 2, frames: 7, positions: 13, heads: 8, c: 40 }, 2);
      await check(e, { b: 1, frames: 7, positions: 13, heads: 8, c: 64, scale: 0.2 }, 3);
    });

    it('long sequences and head dims chunked in workgroup memory: F=64 D=80, F=33 D=160', async () => {
      const e = await engine();
      await check(e, { b: 1, frames: 64, positions: 3, heads: 2, c: 160 }, 4);
      await check(e, { b: 2, frames: 33, positions: 2, heads: 1, c: 160 }, 5);
    });

    it('the plain transpose + attention + transpose path agrees (benchmark baseline)', async () => {
      const e = await engine();
      await check(e, { b: 2, frames: 7, positions: 13, heads: 8, c: 40 }, 6, temporalAttentionNaive);
    });
  });
}

describe('temporalAttention isolation', () => {
  it('frames of different samples b never mix', async () => {
    const e = await testEngine('f32');
    const B = 2, F = 16, P = 13, C = 64;
    const qkv = randn(B * F * P * 3 * C, 7);
    const run = async (data: Float32Array) => {
      const t = e.upload(data, [B * F, P, 3 * C]);
      const o = temporalAttention(e, t, { frames: F, heads: 8 });
      const r = await e.read(o);
      t.release(); o.release();
      return r;
    };
    const base = await run(qkv);
    // Change every q/k/v value of sample 1: sample 0's output must be bit-identical, sample 1's must change.
    const changed = qkv.slice();
    for (let i = F * P * 3 * C; i < changed.length; i++) changed[i] = changed[i] * -1.5 + 0.25;
    const after = await run(changed);
    const half = F * P * C;
    expect(maxAbsDiff(after.subarray(0, half), base.subarray(0, half)).maxAbs).toBe(0);
    expect(maxAbsDiff(after.subarray(half), base.subarray(half)).maxAbs).toBeGreaterThan(0.1);
  });

  it('rejects bad shapes with a specific message', async () => {
    const e = await testEngine('f32');
    const t = e.empty([30, 5, 48], 'f32');
    expect(() => temporalAttention(e, t, { frames: 16, heads: 8 })).toThrow(/30 rows of frames are not a multiple of 16/);
    expect(() => temporalAttention(e, t, { frames: 5, heads: 5 })).toThrow(/16 channels do not split into 5 heads/);
    expect(() => temporalAttention(e, t, { frames: 65, heads: 8 })).toThrow(/frames must be 1\.\.64/);
    t.release();
  });
});

/** A tensor from a safetensors file (F32 only): 8-byte header length, JSON header, raw little-endian data. */
function readSafetensorF32(path: string, name: string): { shape: number[]; data: Float32Array } {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const { dtype, shape, data_offsets: [a, b] } = header[name];
  if (dtype !== 'F32') throw new Error(`${name} is ${dtype}`);
  const bytes = buf.subarray(8 + n + a, 8 + n + b);
  return { shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
}

describe('sinusoidalPositionalEncoding', () => {
  it('matches the definition: pe[p,2i] = sin(p·10000^(−2i/C)), pe[p,2i+1] = cos(...)', () => {
    const pe = sinusoidalPositionalEncoding(24, 320);
    let worst = 0;
    for (let p = 0; p < 24; p++) {
      for (let i = 0; i < 160; i++) {
        const a = p * 10000 ** (-2 * i / 320);
        worst = Math.max(worst, Math.abs(pe[p * 320 + 2 * i] - Math.sin(a)), Math.abs(pe[p * 320 + 2 * i + 1] - Math.cos(a)));
      }
    }
    // Differs from exact float64 only by torch's float32 frequencies: |Δangle| ≤ p·ulp ≈ 23·6e-8.
    expect(worst).toBeLessThan(5e-6);
    expect(() => sinusoidalPositionalEncoding(4, 7)).toThrow(/even/);
  });

  it('reproduces the oracle motion module\'s pos_embed.pe table (diffusers, PyTorch float32) to 1 ulp', () => {
    const path = `${VECTORS}/motion_module/vA/weights_diffusers.safetensors`;
    const { shape, data } = readSafetensorF32(path, 'transformer_blocks.0.pos_embed.pe');
    expect(shape).toEqual([1, 32, 64]);
    const pe = sinusoidalPositionalEncoding(32, 64);
    const { maxAbs } = maxAbsDiff(pe, data);
    expect(maxAbs).toBeLessThan(2e-7); // sin/cos in float64 vs torch's float32 kernels: ≤ 1 ulp at |x| ≤ 1
  });
});
