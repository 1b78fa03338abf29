// GroupNorm and LayerNorm kernels against float64 CPU references (tests/ref/norms.ts).
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { fromF16Array, toF16Array } from '../src/gpu/half';
import { groupNorm, groupNormPlain, type GroupNormOptions } from '../src/ops/groupnorm';
import { layerNorm } from '../src/ops/layernorm';
import { createNodeEngine } from '../src/platform/node-gpu';
import { cannotRun, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import { groupNormRef, layerNormRef } from './ref/norms';

/** Values as the engine stores them (f16 rounding for an f16 engine), so the reference sees the same inputs. */
const stored = (e: Engine, v: Float32Array): Float32Array => (e.dtype === 'f16' ? fromF16Array(toF16Array(v)) : v);

/** Worst violation of |got - ref| <= atol + rtol·|ref| (<= 1 passes); also the plain max error for messages. */
function closeness(got: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number): { worst: number; maxAbs: number; at: number } {
  let worst = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const r = Math.abs(got[i] - ref[i]) / (atol + rtol * Math.abs(ref[i]));
    if (!(r <= worst)) { worst = r; at = i; }
  }
  return { worst, maxAbs: maxAbsDiff(got, ref).maxAbs, at };
}

/**
 * Tolerances. f32: outputs are O(1)–O(5) (gamma = 1 + 0.2·N); f32 statistics and one rounding per output give
 * ~1e-6 relative, so 1e-5 abs + 1e-5 rel catches any indexing/statistics bug (a wrong group or frame shifts
 * outputs by O(0.1)–O(1)). f16: the output is stored in f16 (half-ulp = 2^-11 relative) and gamma/beta/x are f16,
 * stats stay f32, so 2e-3 abs + 2e-3 rel.
 */
const TOL = { f32: { atol: 1e-5, rtol: 1e-5 }, f16: { atol: 2e-3, rtol: 2e-3 } } as const;

interface GnCase { N: number; spatial: number[]; C: number; opts: GroupNormOptions; mean?: number; seed: number }

async function runGroupNorm(e: Engine, k: GnCase, impl: typeof groupNorm = groupNorm) {
  const { N, spatial, C, opts } = k;
  const S = spatial.reduce((a, b) => a * b, 1);
  const x = stored(e, randn(N * S * C, k.seed).map((v) => v + (k.mean ?? 0)));
  const gamma = stored(e, randn(C, k.seed + 1).map((v) => 1 + 0.2 * v));
  const beta = stored(e, randn(C, k.seed + 2, 0.2));
  const tx = e.upload(x, [N, ...spatial, C]), tg = e.upload(gamma, [C]), tb = e.upload(beta, [C]);
  const out = impl(e, tx, tg, tb, opts);
  expect(out.shape).toEqual([N, ...spatial, C]);
  const got = await e.read(out);
  const ref = groupNormRef(x, N, C, gamma, beta, opts.groups, opts.eps, opts.framesPerGroup ?? 1, opts.act ?? 'none');
  for (const t of [tx, tg, tb, out]) t.release();
  return { got, ref, x, gamma, beta };
}

const GN_CASES: (GnCase & { name: string })[] = [
  { name: 'N=4 5x3 C=24 groups 8', N: 4, spatial: [5, 3], C: 24, opts: { groups: 8, eps: 1e-5 }, seed: 10 },
  { name: 'fused SiLU, [N, L, C] input, C=30 groups 5', N: 3, spatial: [7], C: 30, opts: { groups: 5, eps: 1e-6, act: 'silu' }, seed: 20 },
  { name: 'large mean (+50): robust variance', N: 2, spatial: [6, 5], C: 24, opts: { groups: 8, eps: 1e-6 }, mean: 50, seed: 30 },
  { name: 'pooled frames F=2, N=4', N: 4, spatial: [5, 3], C: 24, opts: { groups: 8, eps: 1e-5, framesPerGroup: 2 }, seed: 40 },
  { name: 'channels per group > 256 threads (groups=1, C=300)', N: 2, spatial: [3, 5], C: 300, opts: { groups: 1, eps: 1e-5, act: 'silu' }, seed: 50 },
  // 20 channels × 1458 rows per (b, g) = 29160 values > one chunk (16384): two uneven chunks + merge.
  { name: 'several chunks per group (pooled F=2, 27x27, C=40 groups 2), mean +20', N: 4, spatial: [27, 27], C: 40, opts: { groups: 2, eps: 1e-5, framesPerGroup: 2 }, mean: 20, seed: 60 },
];

describe('groupNorm', () => {
  for (const precision of ['f32', 'f16'] as const) {
    for (const k of GN_CASES) {
      for (const [implName, impl] of [['chunked', groupNorm], ['plain', groupNormPlain]] as const) {
        it.skipIf(cannotRun(precision))(`${precision} ${implName}: ${k.name}`, async () => {
          const e = await testEngine(precision);
          const { got, ref } = await runGroupNorm(e, k, impl);
          const { atol, rtol } = TOL[precision];
          const c = closeness(got, ref, atol, rtol);
          expect(c.worst, `max |err| ${c.maxAbs} at ${c.at}`).toBeLessThanOrEqual(1);
        });
      }
    }
  }

  it('pooled statistics differ from per-frame ones (the test above could not pass in the wrong mode)', async () => {
    const e = await testEngine('f32');
    const k = GN_CASES[3];
    const { got, x, gamma, beta } = await runGroupNorm(e, k);
    const perFrame = groupNormRef(x, k.N, k.C, gamma, beta, k.opts.groups, k.opts.eps, 1);
    expect(maxAbsDiff(got, perFrame).maxAbs).toBeGreaterThan(0.05);
  });

  it('the naive E[x²]−E[x]² formula would fail the large-mean case (the test has teeth)', () => {
    // f32 emulation of the one-pass formula on the +50 case: its error is far above the f32 tolerance.
    const k = GN_CASES[2];
    const S = 30, cg = k.C / k.opts.groups;
    const x = randn(k.N * S * k.C, k.seed).map((v) => v + 50);
    let s1 = 0, s2 = 0;
    for (let r = 0; r < S; r++) for (let c = 0; c < cg; c++) { const v = x[r * k.C + c]; s1 = Math.fround(s1 + v); s2 = Math.fround(s2 + Math.fround(v * v)); }
    const n = S * cg, mean = Math.fround(s1 / n);
    const naiveVar = Math.fround(Math.fround(s2 / n) - Math.fround(mean * mean));
    let ss = 0;
    for (let r = 0; r < S; r++) for (let c = 0; c < cg; c++) ss += (x[r * k.C + c] - s1 / n) ** 2;
    // rstd error of the naive variance, relative: shows up directly in every output
    expect(Math.abs(1 / Math.sqrt(naiveVar) / (1 / Math.sqrt(ss / n)) - 1)).toBeGreaterThan(1e-4);
  });

  it('splits tensors over the binding limit into parts of whole statistics domains', async () => {
    // A fresh engine whose binding limit is lowered to 4 KiB: x (9 KiB) must go in 3 parts of one pooled
    // domain (2 samples × 16 × 24 × 4 bytes = 3 KiB, 256-byte aligned); the engine rejects any larger binding.
    const e = await createNodeEngine({ precision: 'f32' });
    try {
      Object.defineProperty(e, 'maxBindingBytes', { value: 4096 });
      const k: GnCase = { N: 6, spatial: [4, 4], C: 24, opts: { groups: 8, eps: 1e-5, framesPerGroup: 2, act: 'silu' }, seed: 100 };
      const before = e.dispatchCount;
      const { got, ref } = await runGroupNorm(e, k);
      expect(e.dispatchCount - before).toBe(3 * 2); // 3 parts × (stats, normalise)
      const c = closeness(got, ref, TOL.f32.atol, TOL.f32.rtol);
      expect(c.worst, `max |err| ${c.maxAbs} at ${c.at}`).toBeLessThanOrEqual(1);
      const x = e.upload(new Float32Array(2 * 2000 * 1), [2, 2000, 1]), g = e.upload(new Float32Array(1), [1]);
      expect(() => groupNorm(e, x, g, g, { groups: 1, eps: 1e-5, framesPerGroup: 2 })).toThrow(/one statistics domain .* exceeds the 4096-byte binding limit/);
    } finally {
      e.destroy();
    }
  });

  it('rejects bad shapes and options with specific messages', async () => {
    const e = await testEngine('f32');
    const x = e.upload(new Float32Array(4 * 2 * 2 * 12), [4, 2, 2, 12]);
    const g = e.upload(new Float32Array(12), [12]), b = e.upload(new Float32Array(12), [12]);
    const g10 = e.upload(new Float32Array(10), [10]);
    expect(() => groupNorm(e, x, g, b, { groups: 5, eps: 1e-5 })).toThrow(/C = 12 is not divisible by the group count/);
    expect(() => groupNorm(e, x, g, b, { groups: 4, eps: 1e-5, framesPerGroup: 3 })).toThrow(/N = 4 is not divisible by framesPerGroup/);
    expect(() => groupNorm(e, x, g10, b, { groups: 4, eps: 1e-5 })).toThrow(/must have C = 12 values/);
    expect(() => groupNorm(e, x, g, b, { groups: 4, eps: -1 })).toThrow(/eps must be >= 0/);
    for (const t of [x, g, b, g10]) t.release();
  });
});

describe('layerNorm', () => {
  const cases = [
    { name: 'rows=7 C=45', shape: [7, 45], mean: 0, seed: 70 },
    { name: '[2, 3, 130] (C > 2 × workgroup), mean +50', shape: [2, 3, 130], mean: 50, seed: 80 },
    { name: 'C=1 (output is beta)', shape: [5, 1], mean: 3, seed: 90 },
    // Narrow rows share a workgroup (threadsPerRow < 64); row counts that leave the last workgroup partial.
    { name: 'rows=37 C=16 (16 rows per workgroup)', shape: [37, 16], mean: 2, seed: 100 },
    { name: 'rows=50 C=33 (4 rows per workgroup)', shape: [50, 33], mean: -5, seed: 110 },
  ];
  for (const precision of ['f32', 'f16'] as const) {
    for (const k of cases) {
      it.skipIf(cannotRun(precision))(`${precision}: ${k.name}`, async () => {
        const e = await testEngine(precision);
        const C = k.shape[k.shape.length - 1], n = k.shape.reduce((a, b) => a * b, 1);
        const x = stored(e, randn(n, k.seed).map((v) => v + k.mean));
        const gamma = stored(e, randn(C, k.seed + 1).map((v) => 1 + 0.2 * v)), beta = stored(e, randn(C, k.seed + 2, 0.2));
        const tx = e.upload(x, k.shape), tg = e.upload(gamma, [C]), tb = e.upload(beta, [C]);
        const out = layerNorm(e, tx, tg, tb, 1e-5);
        const got = await e.read(out);
        const { atol, rtol } = TOL[precision];
        const c = closeness(got, layerNormRef(x, C, gamma, beta, 1e-5), atol, rtol);
        expect(c.worst, `max |err| ${c.maxAbs} at ${c.at}`).toBeLessThanOrEqual(1);
        for (const t of [tx, tg, tb, out]) t.release();
      });
    }
  }

  it('rejects mismatched gamma', async () => {
    const e = await testEngine('f32');
    const x = e.upload(new Float32Array(12), [3, 4]), g = e.upload(new Float32Array(3), [3]);
    expect(() => layerNorm(e, x, g, g, 1e-5)).toThrow(/gamma and beta must have C = 4 values/);
    x.release(); g.release();
  });
});
