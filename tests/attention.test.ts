import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { fromF16Array, toF16Array } from '../src/gpu/half';
import { attention, attentionNaive, attentionTiles, type AttentionOptions } from '../src/ops/attention';
import { cannotRun, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import { attentionRef } from './ref/attention';

// Tolerances. Outputs are convex combinations of v rows with |v| ≲ 4, so O(1).
// f32: dot products of ≤ 40 terms and exp in f32 give ~1e-6 abs error; 2e-5 still catches any
// indexing bug (a wrong row/head/column changes outputs by O(0.1..1)).
// f16: inputs are rounded to f16 before the reference sees them, so only the f16 output rounding
// (ulp 2^-11·|x| ≤ 2e-3 for |x| < 4) and f32 internals remain: 4e-3.
const TOL = { f32: 2e-5, f16: 4e-3 } as const;

/** f16 engines see inputs rounded to f16: hand the reference the same values. */
const asStored = (x: Float32Array, dtype: 'f32' | 'f16') => (dtype === 'f16' ? fromF16Array(toF16Array(x)) : x);

interface Case { b: number; nq: number; nk: number; heads: number; d: number; scale?: number }

async function checkDense(e: Engine, c: Case, seed: number, impl = attention): Promise<void> {
  const C = c.heads * c.d;
  const q = asStored(randn(c.b * c.nq * C, seed), e.dtype);
  const k = asStored(randn(c.b * c.nk * C, seed + 1), e.dtype);
  const v = asStored(randn(c.b * c.nk * C, seed + 2), e.dtype);
  const tq = e.upload(q, [c.b, c.nq, C]), tk = e.upload(k, [c.b, c.nk, C]), tv = e.upload(v, [c.b, c.nk, C]);
  const out = impl(e, tq, tk, tv, { heads: c.heads, scale: c.scale });
  expect(out.shape).toEqual([c.b, c.nq, C]);
  const got = await e.read(out);
  const ref = attentionRef(q, k, v, c);
  const { maxAbs, at } = maxAbsDiff(got, ref);
  expect(maxAbs, `max |err| at ${at} (${JSON.stringify(c)})`).toBeLessThan(TOL[e.dtype]);
  for (const t of [tq, tk, tv, out]) t.release();
}

async function checkFused(e: Engine, c: { b: number; n: number; heads: number; d: number }, seed: number, impl = attention): Promise<void> {
  const C = c.heads * c.d;
  const qkv = asStored(randn(c.b * c.n * 3 * C, seed), e.dtype);
  const t = e.upload(qkv, [c.b, c.n, 3 * C]);
  const slice = (i: number) => ({ stride: 3 * C, offset: i * C });
  const opts: AttentionOptions = { heads: c.heads, q: slice(0), k: slice(1), v: slice(2) };
  const out = impl(e, t, t, t, opts);
  const got = await e.read(out);
  const ref = attentionRef(qkv, qkv, qkv, { b: c.b, nq: c.n, nk: c.n, heads: c.heads, d: c.d }, { q: slice(0), k: slice(1), v: slice(2) });
  const { maxAbs, at } = maxAbsDiff(got, ref);
  expect(maxAbs, `fused max |err| at ${at}`).toBeLessThan(TOL[e.dtype]);
  t.release(); out.release();
}

describe('attentionTiles', () => {
  it('fits every head dim up to 256 in 16 KiB and 256 threads', () => {
    for (let d = 1; d <= 256; d++) {
      const { bq, bk, td } = attentionTiles(d);
      expect(Math.ceil(d / td)).toBeLessThanOrEqual(8);
      expect(bq * td).toBeLessThanOrEqual(256);
      expect(bk).toBeGreaterThanOrEqual(1);
      expect((bq * d + 2 * bk * d + 2 * bq * bk) * 4).toBeLessThanOrEqual(16384);
    }
    expect(attentionTiles(160)).toEqual({ bq: 8, bk: 8, td: 32 });
    expect(() => attentionTiles(257)).toThrow(/head dim 257/);
  });
});

for (const dtype of ['f32', 'f16'] as const) {
  describe.skipIf(cannotRun(dtype))(`attention (${dtype})`, () => {
    const engine = () => testEngine(dtype);

    it('self-attention, odd sizes: Nq=Nk=67, heads 3, D=40 / 8 / 5', async () => {
      const e = await engine();
      await checkDense(e, { b: 2, nq: 67, nk: 67, heads: 3, d: 40 }, 10);
      await checkDense(e, { b: 1, nq: 67, nk: 67, heads: 3, d: 8 }, 20);
      await checkDense(e, { b: 2, nq: 67, nk: 67, heads: 3, d: 5 }, 30);
    });

    it('cross-attention to 77 tokens (Nk ≠ Nq), D=80 and D=160, custom scale', async () => {
      const e = await engine();
      await checkDense(e, { b: 2, nq: 67, nk: 77, heads: 3, d: 40 }, 40);
      await checkDense(e, { b: 1, nq: 19, nk: 77, heads: 2, d: 80 }, 50);
      await checkDense(e, { b: 1, nq: 11, nk: 77, heads: 1, d: 160, scale: 0.05 }, 60);
    });

    it('reads q, k, v as column slices of one fused [B, N, 3C] tensor', async () => {
      const e = await engine();
      await checkFused(e, { b: 2, n: 37, heads: 3, d: 8 }, 70);
      await checkFused(e, { b: 1, n: 29, heads: 2, d: 40 }, 80);
    });

    it('the plain three-kernel version agrees with the reference too (benchmark baseline)', async () => {
      const e = await engine();
      await checkDense(e, { b: 2, nq: 67, nk: 77, heads: 3, d: 5 }, 90, attentionNaive);
      await checkFused(e, { b: 2, n: 23, heads: 3, d: 8 }, 100, attentionNaive);
    });
  });
}

describe('attention input checks', () => {
  it('names the op and shapes on bad input', async () => {
    const e = await testEngine('f32');
    const a = e.empty([1, 5, 12], 'f32'), b = e.empty([1, 6, 12], 'f32'), c = e.empty([1, 5, 12], 'f32');
    expect(() => attention(e, a, b, c, { heads: 3 })).toThrow(/attention: .*k and v token counts differ/);
    expect(() => attention(e, a, a, a, { heads: 5 })).toThrow(/12 channels do not split into 5 heads/);
    expect(() => attention(e, a, a, a, { heads: 1, q: { stride: 12, offset: 4 } })).toThrow(/q slice/);
    for (const t of [a, b, c]) t.release();
  });
});
