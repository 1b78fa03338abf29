import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import type { Tensor } from '../src/gpu/tensor';
import { type Activation } from '../src/ops/activation';
import { conv2d, conv2dNaive } from '../src/ops/conv2d';
import { prepareConv2d, releaseWeight, weightParts } from '../src/ops/weights';
import { cannotRun, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import { conv2dRef, gemmTolerance, roundF16 } from './ref/gemm';

type DT = 'f32' | 'f16';

/** f16 cases are reported as skipped (never as passed) where the adapter lacks shader-f16 (tests/gpu.ts). */
const PRECISIONS: DT[] = ['f32', 'f16'];

const seen = (dt: DT, a: Float32Array) => (dt === 'f16' ? roundF16(a) : a);

interface ConvCase {
  n: number; H: number; W: number; Cin: number; Cout: number; k: number; stride: 1 | 2; pad: number;
  bias: boolean; act?: Activation; residual?: boolean; maxPartBytes?: number; naive?: boolean;
  /** A row-bias table of this many entries, one per group of n/P images (a ResNet's per-sample time embedding). */
  rowBiasEntries?: number;
}

async function expectClose(e: Engine, t: Tensor, ref: Float64Array, K: number, dt: DT, what: string) {
  const got = await e.read(t);
  const { maxAbs, refMax, at } = maxAbsDiff(got, ref);
  // Same tolerance rule as the GEMM tests (K = kh·kw·Cin products per output); see tests/ref/gemm.ts.
  const tol = gemmTolerance(refMax, K, dt);
  expect(maxAbs, `${what} (${dt}): max |err| ${maxAbs} at ${at} (ref max ${refMax}), tolerance ${tol}`).toBeLessThanOrEqual(tol);
}

async function runConv(dt: DT, c: ConvCase, seed: number): Promise<number> {
  const e = await testEngine(dt);
  const x = randn(c.n * c.H * c.W * c.Cin, seed);
  const w = randn(c.Cout * c.Cin * c.k * c.k, seed + 1);
  const b = c.bias ? randn(c.Cout, seed + 2) : undefined;
  const Ho = Math.floor((c.H + 2 * c.pad - c.k) / c.stride) + 1;
  const Wo = Math.floor((c.W + 2 * c.pad - c.k) / c.stride) + 1;
  const res = c.residual ? randn(c.n * Ho * Wo * c.Cout, seed + 3) : undefined;
  const cw = prepareConv2d(e, w, [c.Cout, c.Cin, c.k, c.k], b, c.maxPartBytes);
  const tx = e.upload(x, [c.n, c.H, c.W, c.Cin]);
  const tres = res ? e.upload(res, [c.n, Ho, Wo, c.Cout]) : undefined;
  const P = c.rowBiasEntries;
  const table = P ? randn(P * c.Cout, seed + 4) : undefined;
  const ttable = table ? e.upload(table, [P!, c.Cout]) : undefined;
  const rowBias = ttable ? { table: ttable, rowsPerEntry: (c.n / P!) * Ho * Wo } : undefined;
  const opts = { stride: c.stride, padding: c.pad, act: c.act };
  const y = c.naive ? conv2dNaive(e, tx, cw, opts) : conv2d(e, tx, cw, { ...opts, residual: tres, rowBias });
  expect(y.shape).toEqual([c.n, Ho, Wo, c.Cout]);
  const ref = conv2dRef(seen(dt, x), seen(dt, w), c.n, c.H, c.W, c.Cin, c.Cout, c.k, c.k, c.stride, c.pad,
    { bias: b && seen(dt, b), act: c.act, residual: res && seen(dt, res), rowBias: table && { table: seen(dt, table), rowsPerEntry: rowBias!.rowsPerEntry } });
  await expectClose(e, y, ref.out, c.k * c.k * c.Cin, dt, JSON.stringify(c));
  const parts = weightParts(cw).length;
  for (const t of [tx, tres, ttable, y]) t?.release();
  releaseWeight(cw);
  return parts;
}

describe('conv2d (implicit GEMM, NHWC)', () => {
  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`3x3 stride 1 padding 1, odd sizes, scalar gather (Cin=5): bias/act/residual combinations (${dt})`, async () => {
    {
      await runConv(dt, { n: 2, H: 9, W: 7, Cin: 5, Cout: 11, k: 3, stride: 1, pad: 1, bias: true, act: 'silu', residual: true }, 10);
      await runConv(dt, { n: 1, H: 9, W: 7, Cin: 5, Cout: 11, k: 3, stride: 1, pad: 1, bias: false, act: 'gelu' }, 11);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`3x3 stride 2 padding 1 (downsample), vec4 gather (Cin=8) and scalar (Cin=5) (${dt})`, async () => {
    {
      await runConv(dt, { n: 2, H: 9, W: 7, Cin: 8, Cout: 11, k: 3, stride: 2, pad: 1, bias: true }, 20);
      await runConv(dt, { n: 1, H: 10, W: 8, Cin: 5, Cout: 13, k: 3, stride: 2, pad: 1, bias: false, residual: true }, 21);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`3x3 padding 0 and 1x1 convs (stride 1 goes through linear; stride 2 through the gather) (${dt})`, async () => {
    {
      await runConv(dt, { n: 1, H: 9, W: 7, Cin: 12, Cout: 11, k: 3, stride: 1, pad: 0, bias: true }, 30);
      await runConv(dt, { n: 2, H: 9, W: 7, Cin: 5, Cout: 11, k: 1, stride: 1, pad: 0, bias: true, act: 'silu', residual: true }, 31);
      await runConv(dt, { n: 2, H: 9, W: 7, Cin: 8, Cout: 11, k: 1, stride: 2, pad: 0, bias: true }, 32);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`many tiles (M = 2·16·15 = 480, N = 70, K = 9·32 = 288) with a weight split along Cout (${dt})`, async () => {
    {
      const bytes = dt === 'f16' ? 2 : 4;
      // 70 output channels, at most 32 per part -> parts of 32, 32, 6: three column ranges.
      const parts = await runConv(dt, { n: 2, H: 16, W: 15, Cin: 32, Cout: 70, k: 3, stride: 1, pad: 1, bias: true, act: 'gelu', residual: true, maxPartBytes: 32 * 9 * 32 * bytes }, 40);
      expect(parts).toBe(3);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`per-sample row bias (ResNet time embedding: 2 samples × 3 frames), 3x3 gather and the 1x1 linear path (${dt})`, async () => {
    {
      await runConv(dt, { n: 6, H: 5, W: 7, Cin: 5, Cout: 11, k: 3, stride: 1, pad: 1, bias: true, act: 'silu', residual: true, rowBiasEntries: 2 }, 45);
      await runConv(dt, { n: 6, H: 5, W: 7, Cin: 8, Cout: 9, k: 1, stride: 1, pad: 0, bias: false, rowBiasEntries: 3 }, 46);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`conv2dNaive (benchmark baseline) matches the same reference (${dt})`, async () => {
    {
      await runConv(dt, { n: 2, H: 9, W: 7, Cin: 5, Cout: 11, k: 3, stride: 1, pad: 1, bias: true, act: 'silu', naive: true }, 50);
      await runConv(dt, { n: 1, H: 9, W: 7, Cin: 8, Cout: 6, k: 3, stride: 2, pad: 1, bias: false, naive: true }, 51);
    }
  });

  it('rejects bad shapes with specific messages', async () => {
    const e = await testEngine('f32');
    const cw = prepareConv2d(e, randn(4 * 3 * 9, 1), [4, 3, 3, 3]);
    const x = e.upload(randn(2 * 5 * 5 * 6, 2), [2, 5, 5, 6]);
    expect(() => conv2d(e, x, cw)).toThrow(/conv2d: weight Tensor<f32>\[4,3,3,3\] should be \[Cout, KH, KW, 6\]/);
    const x3 = e.upload(randn(25 * 3, 3), [5, 5, 3]);
    expect(() => conv2d(e, x3, cw)).toThrow(/conv2d: input .* should be NHWC/);
    const x4 = e.upload(randn(2 * 5 * 5 * 3, 4), [2, 5, 5, 3]);
    expect(() => conv2d(e, x4, cw, { stride: 3 as 1 })).toThrow(/stride 3 is not supported/);
    expect(() => prepareConv2d(e, randn(10, 1), [4, 3, 3, 3])).toThrow(/prepareConv2d: 10 values/);
    for (const t of [x, x3, x4]) t.release();
    releaseWeight(cw);
  });
});
