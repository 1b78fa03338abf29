// The CPU FFT (src/pipeline/fft.ts) against a naive float64 DFT, for every length path: powers of two, mixed radix,
// Bluestein (large primes, forced on small lengths too), forward and inverse, 1-D and 3-D.
import { describe, expect, it } from 'vitest';
import { FftPlan, fftn3, fftshiftIndex } from '../src/pipeline/fft';
import { randn } from './random';

/** X[k] = Σ_j x[j]·e^{∓2πi jk/n}, the angle from jk mod n so it stays exact. */
function naiveDft(re: ArrayLike<number>, im: ArrayLike<number>, inverse: boolean): [Float64Array, Float64Array] {
  const n = re.length, s = inverse ? 1 : -1;
  const or = new Float64Array(n), oi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0, si = 0;
    for (let j = 0; j < n; j++) {
      const a = (s * 2 * Math.PI * ((j * k) % n)) / n;
      const c = Math.cos(a), sn = Math.sin(a);
      sr += re[j] * c - im[j] * sn;
      si += re[j] * sn + im[j] * c;
    }
    or[k] = sr;
    oi[k] = si;
  }
  return [or, oi];
}

function maxErr(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('FftPlan vs a naive float64 DFT', () => {
  const lengths = [...Array.from({ length: 40 }, (_, i) => i + 1), 49, 60, 64, 96, 97, 121, 127, 128, 210, 254];
  for (const method of [undefined, 'mixed', 'bluestein'] as const) {
    it(`lengths 1..40, 49, 60, 64, 96, 97, 121, 127, 128, 210, 254 (${method ?? 'auto'})`, () => {
      for (const n of lengths) {
        const re = Float64Array.from(randn(n, 11 + n)), im = Float64Array.from(randn(n, 977 + n));
        for (const inverse of [false, true]) {
          const [rr, ri] = naiveDft(re, im, inverse);
          const gr = re.slice(), gi = im.slice();
          new FftPlan(n, method).transform(gr, gi, inverse);
          // Sums of n unit-normal terms: the values are O(√n); float64 rounding leaves ~1e-15·n.
          const err = Math.max(maxErr(gr, rr), maxErr(gi, ri));
          expect(err, `n=${n} ${inverse ? 'inverse' : 'forward'}`).toBeLessThan(1e-12 * n);
        }
      }
    });
  }
  it('catches a wrong transform (a sign flip in one output is far above the bound)', () => {
    const n = 12;
    const re = Float64Array.from(randn(n, 1)), im = new Float64Array(n);
    const [rr, ri] = naiveDft(re, im, false);
    const gr = re.slice(), gi = im.slice();
    new FftPlan(n).transform(gr, gi, true); // inverse instead of forward: the imaginary parts flip sign
    expect(Math.max(maxErr(gr, rr), maxErr(gi, ri))).toBeGreaterThan(0.1);
  });
  it('rejects lengths that are not positive integers and arrays of the wrong length', () => {
    expect(() => new FftPlan(0)).toThrow(/positive integer/);
    expect(() => new FftPlan(2.5)).toThrow(/positive integer/);
    expect(() => new FftPlan(4).transform(new Float64Array(3), new Float64Array(3))).toThrow(/length 4/);
  });
});

describe('fftn3', () => {
  // Direct triple sum over (d0, d1, d2), no separability assumed.
  function naive3(re: Float64Array, im: Float64Array, d: [number, number, number], inverse: boolean): [Float64Array, Float64Array] {
    const [a, b, c] = d, vol = a * b * c, s = inverse ? 1 : -1;
    const or = new Float64Array(re.length), oi = new Float64Array(re.length);
    for (let v = 0; v < re.length / vol; v++) {
      for (let k0 = 0; k0 < a; k0++) for (let k1 = 0; k1 < b; k1++) for (let k2 = 0; k2 < c; k2++) {
        let sr = 0, si = 0;
        for (let j0 = 0; j0 < a; j0++) for (let j1 = 0; j1 < b; j1++) for (let j2 = 0; j2 < c; j2++) {
          const ph = ((j0 * k0) % a) / a + ((j1 * k1) % b) / b + ((j2 * k2) % c) / c;
          const ang = s * 2 * Math.PI * ph;
          const x = re[v * vol + (j0 * b + j1) * c + j2], y = im[v * vol + (j0 * b + j1) * c + j2];
          sr += x * Math.cos(ang) - y * Math.sin(ang);
          si += x * Math.sin(ang) + y * Math.cos(ang);
        }
        const o = v * vol + (k0 * b + k1) * c + k2;
        or[o] = inverse ? sr / vol : sr;
        oi[o] = inverse ? si / vol : si;
      }
    }
    return [or, oi];
  }

  for (const d of [[4, 2, 2], [3, 5, 6], [7, 4, 1], [1, 1, 9], [37, 2, 3]] as [number, number, number][]) {
    it(`${d.join('×')} × 2 volumes, forward and inverse (÷ volume), vs the direct sum`, () => {
      const n = 2 * d[0] * d[1] * d[2];
      const re = Float64Array.from(randn(n, 5)), im = Float64Array.from(randn(n, 6));
      for (const inverse of [false, true]) {
        const [rr, ri] = naive3(re, im, d, inverse);
        const gr = re.slice(), gi = im.slice();
        fftn3(gr, gi, d, inverse);
        expect(Math.max(maxErr(gr, rr), maxErr(gi, ri)), `${d} ${inverse}`).toBeLessThan(1e-11);
      }
    });
  }
  it('inverse(forward(x)) = x', () => {
    const d: [number, number, number] = [16, 8, 10];
    const re = Float64Array.from(randn(3 * 16 * 8 * 10, 9)), im = new Float64Array(re.length);
    const gr = re.slice(), gi = im.slice();
    fftn3(gr, gi, d);
    fftn3(gr, gi, d, true);
    expect(maxErr(gr, re)).toBeLessThan(1e-13);
    expect(maxErr(gi, im)).toBeLessThan(1e-13);
  });
  it('rejects arrays that are not whole volumes', () => {
    expect(() => fftn3(new Float64Array(10), new Float64Array(10), [2, 2, 2])).toThrow(/whole volumes/);
  });
});

describe('fftshiftIndex', () => {
  it('is numpy fftshift / ifftshift (roll by ±⌊n/2⌋), inverse of each other', () => {
    expect([...fftshiftIndex(4)]).toEqual([2, 3, 0, 1]); // fftshift([0,1,2,3]) = [2,3,0,1]
    expect([...fftshiftIndex(5)]).toEqual([3, 4, 0, 1, 2]); // fftshift([0..4]) = [3,4,0,1,2]
    expect([...fftshiftIndex(5, true)]).toEqual([2, 3, 4, 0, 1]); // ifftshift([0..4]) = [2,3,4,0,1]
    for (const n of [1, 2, 7, 8]) {
      const f = fftshiftIndex(n), g = fftshiftIndex(n, true);
      for (let k = 0; k < n; k++) expect(f[g[k]]).toBe(k);
    }
  });
});
