// Weight-only int8 / int4 GEMMs: the CPU quantizer (src/weights/quantize.ts) against its error bound and an
// independent decoder of the packed format written here, and the fused-dequant B loaders
// (shaders/matmul_b_q8.wgsl, matmul_b_q4.wgsl) in linear and conv2d against a float64 reference of
// x · dequant(W)ᵀ, on random data with odd shapes, in f32 and f16.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { f16BitsToF32, f32ToF16Bits } from '../src/gpu/half';
import type { Tensor } from '../src/gpu/tensor';
import type { Activation } from '../src/ops/activation';
import { conv2d } from '../src/ops/conv2d';
import { linear } from '../src/ops/linear';
import { convWeightToOhwi, prepareConv2d, prepareLinear, QuantizedTensor, releaseWeight, uploadQuantized, weightParts } from '../src/ops/weights';
import { dequantize, quantize, type QuantFormat, QUANT_GROUP, quantizedBytes } from '../src/weights/quantize';
import { hasF16, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import { conv2dRef, gemmTolerance, linearRef, roundF16 } from './ref/gemm';

type DT = 'f32' | 'f16';
const FORMATS: QuantFormat[] = ['int8', 'int4'];

async function precisions(): Promise<DT[]> {
  return (await hasF16()) ? ['f32', 'f16'] : ['f32'];
}
const seen = (dt: DT, a: Float32Array) => (dt === 'f16' ? roundF16(a) : a);

/**
 * The packed format decoded from its written specification (docs/weights.md, "Quantized weights"), independently of
 * src/weights/quantize.ts: int8 = byte j of word i is q[4i+j] (two's complement) × scale[n] (f32);
 * int4 = nibble j of word i is q[8i+j] + 8 (q in [-8, 7]), × the f16 scale of group k/16 (two per word, low half first).
 */
function decodeSpec(format: QuantFormat, words: Uint32Array, scales: Float32Array | Uint16Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  if (format === 'int8') {
    const wpr = Math.ceil(k / 4);
    for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) {
      const byte = (words[r * wpr + (i >> 2)] >>> (8 * (i & 3))) & 0xff;
      out[r * k + i] = (byte >= 128 ? byte - 256 : byte) * (scales as Float32Array)[r];
    }
  } else {
    const wpr = Math.ceil(k / 8), spr = 2 * Math.ceil(Math.ceil(k / 16) / 2);
    for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) {
      const nib = (words[r * wpr + (i >> 3)] >>> (4 * (i & 7))) & 0xf;
      out[r * k + i] = (nib - 8) * f16BitsToF32((scales as Uint16Array)[r * spr + Math.floor(i / 16)]);
    }
  }
  return out;
}

/** Weights with a spread of row / group magnitudes (a real layer's channels differ by orders of magnitude). */
function weights(n: number, k: number, seed: number): Float32Array {
  const w = randn(n * k, seed);
  for (let r = 0; r < n; r++) {
    const rowScale = 2 ** ((r % 7) - 3);
    for (let i = 0; i < k; i++) w[r * k + i] *= rowScale * (1 + Math.floor(i / 32) % 3);
  }
  return w;
}

describe('weight quantization (CPU)', () => {
  it('packs as the spec says; int8 rounds every weight to the nearest step of max|row| / 127', () => {
    for (const format of FORMATS) {
      for (const [n, k] of [[5, 45], [3, 100], [4, 64], [1, 7]]) {
        const w = weights(n, k, 7 + k);
        const q = quantize(format, w, [n, k]);
        expect(q.words.byteLength + q.scales.byteLength).toBe(quantizedBytes(format, n, k));
        const spec = decodeSpec(format, q.words, q.scales, n, k);
        const dq = dequantize(q);
        for (let i = 0; i < n * k; i++) expect(Math.fround(dq[i]), `${format} [${n},${k}] element ${i}`).toBe(spec[i]);
        if (format !== 'int8') continue;
        for (let r = 0; r < n; r++) {
          let max = 0;
          for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(w[r * k + i]));
          for (let i = 0; i < k; i++) expect(Math.abs(dq[r * k + i] - w[r * k + i]), `int8 row ${r} k ${i}`).toBeLessThanOrEqual((max / 127) * 0.5 + 1e-12);
        }
      }
    }
  });

  it('int4: each weight takes the nearest of the 16 levels of its group scale, and the scale search beats max|w| / 8', () => {
    // The rule it is checked against (docs/weights.md): a scale s per group of 16, levels q·s for q in [-8, 7].
    // s is searched, so the test does not recompute it: it checks that (1) every weight sits on the nearest level
    // of its group's stored scale, (2) no group's squared error exceeds what the plain rule s = -(signed max)/8
    // (the largest weight exactly on level -8, ggml's Q4_0) gives, and (3) over all groups the search is better.
    let searched = 0, plain = 0, lowest = 0;
    const bad: string[] = []; // the first few violations (one expect per element would dominate the test's time)
    for (const [n, k] of [[5, 45], [3, 100], [4, 64], [1, 7], [64, 320]]) {
      const w = weights(n, k, 11 + k);
      const q = quantize('int4', w, [n, k]);
      const dq = dequantize(q);
      const spr = 2 * Math.ceil(Math.ceil(k / 16) / 2);
      for (let r = 0; r < n; r++) {
        for (let g0 = 0; g0 < k; g0 += QUANT_GROUP) {
          const g1 = Math.min(k, g0 + QUANT_GROUP);
          const s = f16BitsToF32((q.scales as Uint16Array)[r * spr + g0 / QUANT_GROUP]);
          let signedMax = 0;
          for (let i = g0; i < g1; i++) if (Math.abs(w[r * k + i]) > Math.abs(signedMax)) signedMax = w[r * k + i];
          const sPlain = f16BitsToF32(f32ToF16Bits(-signedMax / 8));
          let eSearch = 0, ePlain = 0;
          for (let i = g0; i < g1; i++) {
            const x = w[r * k + i], level = dq[r * k + i] / s;
            if (!(Number.isInteger(level) && level >= -8 && level <= 7)) bad.push(`[${n},${k}] row ${r} k ${i}: level ${level}`);
            if (level === -8) lowest++;
            for (const other of [level - 1, level + 1]) {
              if (other >= -8 && other <= 7 && Math.abs(x - level * s) > Math.abs(x - other * s) * (1 + 1e-6) + 1e-12) bad.push(`[${n},${k}] row ${r} k ${i}: level ${other} is nearer than ${level}`);
            }
            eSearch += (x - dq[r * k + i]) ** 2;
            const qp = Math.max(-8, Math.min(7, Math.round(x / sPlain)));
            ePlain += (x - qp * sPlain) ** 2;
          }
          if (eSearch > ePlain * (1 + 1e-3) + 1e-12) bad.push(`[${n},${k}] row ${r} group ${g0 / QUANT_GROUP}: error ${eSearch} > ${ePlain} of max/8`);
          searched += eSearch; plain += ePlain;
        }
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(lowest, 'level -8 is used').toBeGreaterThan(0);
    expect(searched, 'the search lowers the total error').toBeLessThan(plain * 0.97);
  });

  it('handles all-zero rows and refuses non-finite weights', () => {
    for (const format of FORMATS) {
      const w = new Float32Array(2 * 40);
      w[45] = 3;
      const dq = dequantize(quantize(format, w, [2, 40]));
      expect(Array.from(dq.subarray(0, 40)).every((v) => v === 0)).toBe(true);
      expect(dq[45]).toBeCloseTo(3, 2);
      w[3] = NaN;
      expect(() => quantize(format, w, [2, 40])).toThrow(/non-finite/);
    }
  });
});

async function expectClose(e: Engine, t: Tensor, ref: Float64Array, K: number, dt: DT, what: string) {
  const got = await e.read(t);
  const { maxAbs, refMax, at } = maxAbsDiff(got, ref);
  const tol = gemmTolerance(refMax, K, dt);
  expect(maxAbs, `${what} (${dt}): max |err| ${maxAbs} at ${at} (ref max ${refMax}), tolerance ${tol}`).toBeLessThanOrEqual(tol);
}

interface LinearCase { rows: number; K: number; N: number; bias?: boolean; act?: Activation; residual?: boolean; rowBias?: { P: number; rowsPerEntry: number }; maxPartBytes?: number }

async function runLinear(dt: DT, format: QuantFormat, c: LinearCase, seed: number): Promise<number> {
  const e = await testEngine(dt);
  const x = randn(c.rows * c.K, seed), w = weights(c.N, c.K, seed + 1);
  const b = c.bias ? randn(c.N, seed + 2) : undefined;
  const res = c.residual ? randn(c.rows * c.N, seed + 3) : undefined;
  const table = c.rowBias ? randn(c.rowBias.P * c.N, seed + 4) : undefined;
  const lw = prepareLinear(e, w, [c.N, c.K], b, c.maxPartBytes, format);
  expect(weightParts(lw).every((p) => p instanceof QuantizedTensor && p.format === format)).toBe(true);
  const tx = e.upload(x, [c.rows, c.K]);
  const tres = res ? e.upload(res, [c.rows, c.N]) : undefined;
  const ttable = table ? e.upload(table, [c.rowBias!.P, c.N]) : undefined;
  const y = linear(e, tx, lw, { act: c.act, residual: tres, rowBias: ttable ? { table: ttable, rowsPerEntry: c.rowBias!.rowsPerEntry } : undefined });
  const q = quantize(format, w, [c.N, c.K]);
  const wq = decodeSpec(format, q.words, q.scales, c.N, c.K);
  const ref = linearRef(seen(dt, x), wq, c.rows, c.K, c.N, {
    bias: b && seen(dt, b), act: c.act, residual: res && seen(dt, res),
    rowBias: table ? { table: seen(dt, table), rowsPerEntry: c.rowBias!.rowsPerEntry } : undefined,
  });
  await expectClose(e, y, ref, c.K, dt, `${format} linear ${JSON.stringify(c)}`);
  const parts = weightParts(lw).length;
  for (const t of [tx, tres, ttable, y]) t?.release();
  releaseWeight(lw);
  return parts;
}

describe('linear with quantized weights (fused dequant in the GEMM B loader)', () => {
  it('matches x · dequant(W)ᵀ in float64 on odd shapes (K not a multiple of 4 or of the group, partial tiles)', async () => {
    for (const dt of await precisions()) {
      for (const [i, format] of FORMATS.entries()) {
        await runLinear(dt, format, { rows: 67, K: 45, N: 37, bias: true }, 100 + i);
        await runLinear(dt, format, { rows: 70, K: 100, N: 65, residual: true }, 110 + i);
        await runLinear(dt, format, { rows: 5, K: 7, N: 3 }, 120 + i);
      }
    }
  }, 900_000);

  it('vec4 A loads, rowBias, and weights split into row parts over the binding limit', async () => {
    for (const dt of await precisions()) {
      for (const [i, format] of FORMATS.entries()) {
        await runLinear(dt, format, { rows: 69, K: 96, N: 70, bias: true, act: 'gelu', rowBias: { P: 3, rowsPerEntry: 5 } }, 130 + i);
        // 96 values per row: int8 = 24 words, int4 = 12 words per row → parts of 9 and 18 rows.
        const parts = await runLinear(dt, format, { rows: 33, K: 96, N: 37, bias: true, maxPartBytes: 9 * 96 }, 140 + i);
        expect(parts).toBe(format === 'int8' ? Math.ceil(37 / 9) : Math.ceil(37 / 18));
      }
    }
  }, 900_000);

  it('a quantized tensor uploaded from its serialized form computes the same as one prepared from floats', async () => {
    const e = await testEngine('f32');
    const [N, K, rows] = [19, 72, 11];
    const w = weights(N, K, 150), x = randn(rows * K, 151);
    for (const format of FORMATS) {
      const fromFloats = prepareLinear(e, w, [N, K], undefined, undefined, format);
      const q = quantize(format, w, [N, K]);
      const copy = { ...q, words: q.words.slice(), scales: q.scales.slice() }; // as a cache would hand it back
      const fromCache = { weight: uploadQuantized(e, copy) };
      const tx = e.upload(x, [rows, K]);
      const [a, b] = [linear(e, tx, fromFloats), linear(e, tx, fromCache)];
      expect(Array.from(await e.read(a))).toEqual(Array.from(await e.read(b)));
      for (const t of [tx, a, b]) t.release();
      releaseWeight(fromFloats);
      releaseWeight(fromCache);
    }
  }, 600_000);
});

interface ConvCase { n: number; H: number; W: number; Cin: number; Cout: number; k: number; stride: 1 | 2; pad: number; bias?: boolean; act?: Activation; residual?: boolean }

async function runConv(dt: DT, format: QuantFormat, c: ConvCase, seed: number) {
  const e = await testEngine(dt);
  const x = randn(c.n * c.H * c.W * c.Cin, seed);
  const K = c.k * c.k * c.Cin;
  const w = weights(c.Cout, c.Cin * c.k * c.k, seed + 1); // PyTorch (Cout, Cin, KH, KW)
  const b = c.bias ? randn(c.Cout, seed + 2) : undefined;
  const Ho = Math.floor((c.H + 2 * c.pad - c.k) / c.stride) + 1;
  const Wo = Math.floor((c.W + 2 * c.pad - c.k) / c.stride) + 1;
  const res = c.residual ? randn(c.n * Ho * Wo * c.Cout, seed + 3) : undefined;
  const cw = prepareConv2d(e, w, [c.Cout, c.Cin, c.k, c.k], b, undefined, format);
  const tx = e.upload(x, [c.n, c.H, c.W, c.Cin]);
  const tres = res ? e.upload(res, [c.n, Ho, Wo, c.Cout]) : undefined;
  const y = conv2d(e, tx, cw, { stride: c.stride, padding: c.pad, act: c.act, residual: tres });
  // The quantizer sees the OHWI rows [Cout, KH·KW·Cin]; decode them and permute back to PyTorch's layout.
  const ohwi = convWeightToOhwi(w, [c.Cout, c.Cin, c.k, c.k]);
  const q = quantize(format, ohwi, [c.Cout, c.k, c.k, c.Cin]);
  const dqOhwi = decodeSpec(format, q.words, q.scales, c.Cout, K);
  const dq = new Float32Array(w.length);
  for (let o = 0; o < c.Cout; o++) for (let ci = 0; ci < c.Cin; ci++) for (let ky = 0; ky < c.k; ky++) for (let kx = 0; kx < c.k; kx++) {
    dq[((o * c.Cin + ci) * c.k + ky) * c.k + kx] = dqOhwi[((o * c.k + ky) * c.k + kx) * c.Cin + ci];
  }
  const { out } = conv2dRef(seen(dt, x), dq, c.n, c.H, c.W, c.Cin, c.Cout, c.k, c.k, c.stride, c.pad, {
    bias: b && seen(dt, b), act: c.act, residual: res && seen(dt, res),
  });
  await expectClose(e, y, out, K, dt, `${format} conv ${JSON.stringify(c)}`);
  for (const t of [tx, tres, y]) t?.release();
  releaseWeight(cw);
}

describe('conv2d with quantized weights (implicit GEMM, same B loaders)', () => {
  it('3×3 convs (scalar and vec4 im2col, stride 1 and 2, odd sizes) and a 1×1 conv match float64', async () => {
    for (const dt of await precisions()) {
      for (const [i, format] of FORMATS.entries()) {
        await runConv(dt, format, { n: 2, H: 7, W: 9, Cin: 5, Cout: 13, k: 3, stride: 1, pad: 1, bias: true }, 200 + i);
        await runConv(dt, format, { n: 1, H: 11, W: 6, Cin: 8, Cout: 70, k: 3, stride: 2, pad: 1, bias: true, residual: false }, 210 + i);
        await runConv(dt, format, { n: 2, H: 5, W: 5, Cin: 12, Cout: 9, k: 1, stride: 1, pad: 0, residual: true }, 220 + i);
      }
    }
  }, 900_000);
});
