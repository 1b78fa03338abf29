import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { GpuCapabilityError } from '../src/gpu/errors';
import { Tensor } from '../src/gpu/tensor';
import { type Activation } from '../src/ops/activation';
import { linear, linearNaive } from '../src/ops/linear';
import { matmul } from '../src/ops/matmul';
import { prepareLinear, releaseWeight, weightParts } from '../src/ops/weights';
import { cannotRun, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import { epilogueRef, type EpilogueRef, gemmTolerance, linearRef, matmulRef, roundF16 } from './ref/gemm';

type DT = 'f32' | 'f16';

/** f16 cases are reported as skipped (never as passed) where the adapter lacks shader-f16 (tests/gpu.ts). */
const PRECISIONS: DT[] = ['f32', 'f16'];

/** What the GPU sees of host data in this dtype. */
const seen = (dt: DT, a: Float32Array) => (dt === 'f16' ? roundF16(a) : a);

async function expectClose(e: Engine, t: Tensor, ref: Float64Array, K: number, dt: DT, what: string) {
  const got = await e.read(t);
  const { maxAbs, refMax, at } = maxAbsDiff(got, ref);
  const tol = gemmTolerance(refMax, K, dt);
  expect(maxAbs, `${what} (${dt}): max |err| ${maxAbs} at ${at} (ref max ${refMax}), tolerance ${tol}`).toBeLessThanOrEqual(tol);
}

interface LinearCase { rows: number[]; K: number; N: number; bias: boolean; act?: Activation; residual?: boolean; rowBias?: { P: number; rowsPerEntry: number }; maxPartBytes?: number; scale?: number }

async function runLinear(dt: DT, c: LinearCase, seed: number) {
  const e = await testEngine(dt);
  const rows = c.rows.reduce((a, b) => a * b, 1);
  const x = randn(rows * c.K, seed), w = randn(c.N * c.K, seed + 1);
  const b = c.bias ? randn(c.N, seed + 2) : undefined;
  const res = c.residual ? randn(rows * c.N, seed + 3) : undefined;
  const table = c.rowBias ? randn(c.rowBias.P * c.N, seed + 4) : undefined;
  const lw = prepareLinear(e, w, [c.N, c.K], b, c.maxPartBytes);
  const tx = e.upload(x, [...c.rows, c.K]);
  const tres = res ? e.upload(res, [...c.rows, c.N]) : undefined;
  const ttable = table ? e.upload(table, [c.rowBias!.P, c.N]) : undefined;
  const y = linear(e, tx, lw, { act: c.act, residual: tres, rowBias: ttable ? { table: ttable, rowsPerEntry: c.rowBias!.rowsPerEntry } : undefined, scale: c.scale });
  expect(y.shape).toEqual([...c.rows, c.N]);
  const ep: EpilogueRef = {
    bias: b && seen(dt, b), act: c.act, residual: res && seen(dt, res),
    rowBias: table ? { table: seen(dt, table), rowsPerEntry: c.rowBias!.rowsPerEntry } : undefined, scale: c.scale,
  };
  const ref = linearRef(seen(dt, x), seen(dt, w), rows, c.K, c.N, ep);
  await expectClose(e, y, ref, c.K, dt, JSON.stringify(c));
  const nParts = weightParts(lw).length;
  for (const t of [tx, tres, ttable, y]) t?.release();
  releaseWeight(lw);
  return nParts;
}

describe('linear (tiled GEMM)', () => {
  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`matches the float64 reference for every activation, with/without bias and residual (odd shapes, scalar loads) (${dt})`, async () => {
    const acts: Activation[] = ['none', 'silu', 'gelu', 'quick_gelu', 'gelu_tanh'];
    {
      for (const [i, act] of acts.entries()) {
        // The activation code is dtype-independent (f32 math); f16 re-checks two of them to keep compiles down.
        if (dt === 'f16' && act !== 'none' && act !== 'gelu') continue;
        await runLinear(dt, { rows: [67], K: 45, N: 37, bias: i % 2 === 0, act, residual: i % 2 === 1 }, 10 + i);
      }
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`handles leading dims, vec4-aligned K, rowBias (per-frame table) and residual together (${dt})`, async () => {
    {
      // x [3, 23, 48]: 69 rows; rows r share table entry floor(r / 5) % 4 (like frames of h*w tokens).
      await runLinear(dt, { rows: [3, 23], K: 48, N: 37, bias: true, act: 'silu', residual: true, rowBias: { P: 4, rowsPerEntry: 5 } }, 30);
      await runLinear(dt, { rows: [67], K: 44, N: 70, bias: false, rowBias: { P: 3, rowsPerEntry: 1 } }, 31);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`scales the activated value before the residual (the motion-strength fold: x + s·proj_out(t)) (${dt})`, async () => {
    {
      await runLinear(dt, { rows: [3, 23], K: 48, N: 37, bias: true, residual: true, rowBias: { P: 4, rowsPerEntry: 5 }, scale: 0.37 }, 32);
      await runLinear(dt, { rows: [67], K: 45, N: 37, bias: true, act: 'silu', residual: true, scale: 1.5 }, 33);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`splits an oversize weight into row parts, each dispatch writing its own column range (${dt})`, async () => {
    {
      const bytes = dt === 'f16' ? 2 : 4;
      // N=37 rows of K=45: at most 10 rows per part -> parts of 10, 10, 10, 7 (scalar and vec4 paths).
      const n1 = await runLinear(dt, { rows: [67], K: 45, N: 37, bias: true, act: 'gelu', residual: true, rowBias: { P: 2, rowsPerEntry: 7 }, maxPartBytes: 10 * 45 * bytes }, 40);
      expect(n1).toBe(4);
      const n2 = await runLinear(dt, { rows: [70], K: 64, N: 150, bias: true, maxPartBytes: 64 * 64 * bytes }, 41);
      expect(n2).toBe(3);
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`covers many tiles at a larger shape (M=300, N=200, K=320) (${dt})`, async () => {
    {
      await runLinear(dt, { rows: [300], K: 320, N: 200, bias: true, act: 'gelu' }, 50);
      await runLinear(dt, { rows: [300], K: 317, N: 200, bias: false, residual: true }, 51);
    }
  });

  it('rejects mismatched shapes with a message naming the op', async () => {
    const e = await testEngine('f32');
    const lw = prepareLinear(e, randn(6 * 5, 1), [6, 5]);
    const x = e.upload(randn(4 * 7, 2), [4, 7]);
    expect(() => linear(e, x, lw)).toThrow(/linear: input Tensor<f32>\[4,7\] does not match weight/);
    const x2 = e.upload(randn(4 * 5, 3), [4, 5]);
    const badRes = e.upload(randn(4 * 5, 4), [4, 5]);
    expect(() => linear(e, x2, lw, { residual: badRes })).toThrow(/linear: residual .* should have the output's shape \[4,6\]/);
    expect(() => prepareLinear(e, randn(10, 1), [3, 4])).toThrow(/prepareLinear: 10 values for weight shape \[3,4\]/);
    expect(() => prepareLinear(e, randn(12, 1), [3, 4], undefined, 8)).toThrow(/over the 8-byte binding limit/);
    for (const t of [x, x2, badRes]) t.release();
    releaseWeight(lw);
  });
  it('refuses an input over the binding limit with a clear error (before any GPU work)', async () => {
    const e = await testEngine('f32');
    const lw = prepareLinear(e, randn(8 * 4, 1), [8, 4]);
    const small = e.upload(randn(4, 2), [1, 4]);
    // A view claiming 40M rows of 4 floats (640 MB) over a small buffer: the op must refuse it up front.
    const huge = new Tensor(e, small.buffer, [40_000_000, 4], 'f32', 0, false);
    expect(() => linear(e, huge, lw)).toThrow(GpuCapabilityError);
    expect(() => linear(e, huge, lw)).toThrow(/linear: input A Tensor<f32>\[40000000,4\] is 640000000 bytes, over the 134217728-byte binding limit/);
    small.release();
    releaseWeight(lw);
  });
});

describe('matmul (batched)', () => {
  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`a [B,M,K] x b [B,K,N], odd shapes, bias + act (${dt})`, async () => {
    {
      const e = await testEngine(dt);
      const [B, M, K, N] = [3, 33, 21, 19];
      const a = randn(B * M * K, 60), b = randn(B * K * N, 61), bias = randn(N, 62);
      const y = matmul(e, e.upload(a, [B, M, K]), e.upload(b, [B, K, N]), { bias: e.upload(bias, [N]), act: 'silu' });
      expect(y.shape).toEqual([B, M, N]);
      const ref = epilogueRef(matmulRef(seen(dt, a), seen(dt, b), B, M, K, N, false), N, { bias: seen(dt, bias), act: 'silu' });
      await expectClose(e, y, ref, K, dt, 'matmul');
    }
  });

  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`transB (b [B,N,K]), vec4 and scalar K, broadcast b batch, residual (${dt})`, async () => {
    {
      const e = await testEngine(dt);
      for (const [B, M, K, N, bB] of [[2, 70, 20, 66, 2], [3, 17, 23, 9, 1]]) {
        const a = randn(B * M * K, 70 + K), b = randn(bB * N * K, 71 + K), res = randn(B * M * N, 72 + K);
        const y = matmul(e, e.upload(a, [B, M, K]), e.upload(b, [bB, N, K]), { transB: true, residual: e.upload(res, [B, M, N]) });
        const ref = epilogueRef(matmulRef(seen(dt, a), seen(dt, b), B, M, K, N, true, bB), N, { residual: seen(dt, res) });
        await expectClose(e, y, ref, K, dt, `matmul transB ${[B, M, K, N, bB]}`);
      }
    }
  });

  it('rejects inner-dimension mismatch', async () => {
    const e = await testEngine('f32');
    const a = e.upload(randn(2 * 3 * 4, 1), [2, 3, 4]);
    const b = e.upload(randn(2 * 5 * 6, 2), [2, 5, 6]);
    expect(() => matmul(e, a, b)).toThrow(/matmul: a Tensor<f32>\[2,3,4\] and b Tensor<f32>\[2,5,6\] do not match/);
  });
});

describe('linearNaive (benchmark baseline)', () => {
  for (const dt of PRECISIONS) it.skipIf(cannotRun(dt))(`matches the same reference (${dt})`, async () => {
    {
      const e = await testEngine(dt);
      const [M, K, N] = [37, 29, 23];
      const x = randn(M * K, 80), w = randn(N * K, 81), b = randn(N, 82);
      const lw = prepareLinear(e, w, [N, K], b);
      const y = linearNaive(e, e.upload(x, [M, K]), lw, { act: 'gelu_tanh' });
      await expectClose(e, y, linearRef(seen(dt, x), seen(dt, w), M, K, N, { bias: seen(dt, b), act: 'gelu_tanh' }), K, dt, 'linearNaive');
    }
  });
});
