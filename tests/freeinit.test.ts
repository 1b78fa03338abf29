// FreeInit's pure parts (src/pipeline/freeinit.ts): the filters, the diffusion to t = 999, the frequency mix and the
// per-iteration step counts, against a float64 reference written as diffusers writes it (explicit fftshift of both
// spectra, direct DFT sums) and against the oracle freeinit_tiny/vA (CPU only: no model runs here).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile, toF32 } from '../src/conformance/tensor-file';
import {
  diffuse, type FreeInitFilterParams, freeInitFilter, freeInitIterationSteps, mixFrequencies,
} from '../src/pipeline/freeinit';
import { freeInitNoise, gaussian, initialNoise, lowbias32 } from '../src/pipeline/rng';
import { createScheduler } from '../src/schedulers';
import { ddimTimesteps } from '../src/schedulers/ddim';
import { maxAbsDiff, randn } from './random';

const DIR = path.resolve(__dirname, '../../shared/oracle/vectors/freeinit_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const outputs = parseTensorFile(readFileSync(path.join(DIR, 'outputs.safetensors')), 'outputs');
const pipelineInputs = parseTensorFile(readFileSync(path.join(DIR, '../../pipeline_tiny/vA/inputs.safetensors')), 'inputs');

const bw = (ds = 0.25, dt = 0.25, order = 4): FreeInitFilterParams => ({ method: 'butterworth', order, spatialStopFrequency: ds, temporalStopFrequency: dt });

describe('freeInitFilter', () => {
  it('butterworth equals the oracle filter in every channel (float32, fftshift order)', () => {
    for (const run of Object.keys(config.runs)) {
      const ref = outputs.get(`${run}.free_init.freq_filter`)!;
      const [, C, F, h, w] = ref.shape;
      const e = config.runs[run].enable_free_init;
      const got = freeInitFilter(F, h, w, { method: e.method, order: e.order, spatialStopFrequency: e.spatial_stop_frequency, temporalStopFrequency: e.temporal_stop_frequency });
      for (let c = 0; c < C; c++) {
        const d = maxAbsDiff(got, ref.data.subarray(c * F * h * w, (c + 1) * F * h * w));
        expect(d.maxAbs, `${run} channel ${c}`).toBeLessThanOrEqual(6e-8); // ≤ 1 float32 ulp of values ≤ 1
      }
    }
  });

  it('each method at chosen points: centre 1, the formulas, 2·d_s for ideal, zeros for a zero stop frequency', () => {
    const [F, h, w] = [6, 4, 8];
    const at = (t: number, y: number, x: number) => (t * h + y) * w + x;
    const d2 = (t: number, y: number, x: number, ds: number, dt: number) => ((ds / dt) * (2 * t / F - 1)) ** 2 + (2 * y / h - 1) ** 2 + (2 * x / w - 1) ** 2;
    const b = freeInitFilter(F, h, w, bw(0.3, 0.6, 2));
    expect(b[at(3, 2, 4)]).toBe(1); // d² = 0 at (F/2, h/2, w/2)
    expect(b[at(0, 1, 7)]).toBe(Math.fround(1 / (1 + (d2(0, 1, 7, 0.3, 0.6) / 0.09) ** 2)));
    const g = freeInitFilter(F, h, w, { ...bw(0.3, 0.6), method: 'gaussian' });
    expect(g[at(5, 0, 2)]).toBe(Math.fround(Math.exp(-d2(5, 0, 2, 0.3, 0.6) / (2 * 0.09))));
    // ideal: d² ≤ 2·d_s. With d_s = 0.25 the threshold is 0.5 (d_s² would be 0.0625).
    const id = freeInitFilter(F, h, w, { ...bw(0.25, 0.25), method: 'ideal' });
    for (let t = 0; t < F; t++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      expect(id[at(t, y, x)]).toBe(d2(t, y, x, 0.25, 0.25) <= 0.5 ? 1 : 0);
    }
    expect(id[at(3, 1, 4)]).toBe(1); // d² = 0.25: inside 2·d_s, outside d_s²
    expect([...freeInitFilter(F, h, w, bw(0, 0.25))].every((v) => v === 0)).toBe(true);
    expect([...freeInitFilter(F, h, w, { ...bw(0.25, 0), method: 'ideal' })].every((v) => v === 0)).toBe(true);
  });
});

describe('freeInitIterationSteps', () => {
  it('fast sampling: max(1, int(steps/iters·(k+1))); otherwise every iteration runs all steps', () => {
    expect([0, 1].map((k) => freeInitIterationSteps(3, 2, k, true))).toEqual([1, 3]);
    expect([0, 1, 2].map((k) => freeInitIterationSteps(25, 3, k, true))).toEqual([8, 16, 25]);
    expect([0, 1, 2, 3].map((k) => freeInitIterationSteps(2, 4, k, true))).toEqual([1, 1, 1, 2]);
    expect([0, 1, 2].map((k) => freeInitIterationSteps(25, 3, k, false))).toEqual([25, 25, 25]);
  });
  it('gives the oracle runs\' iteration timesteps (DDIM leading: the 1-step iteration runs at t = 1)', () => {
    for (const [run, r] of Object.entries<any>(config.runs)) {
      const e = r.enable_free_init;
      r.iterations.forEach((it: any, k: number) => {
        const steps = freeInitIterationSteps(r.num_inference_steps, e.num_iters, k, e.use_fast_sampling);
        expect(ddimTimesteps(r.scheduler_config, steps), `${run} iteration ${k}`).toEqual(it.timesteps);
        expect([...outputs.get(`${run}.free_init.iter${k}.timesteps`)!.data]).toEqual(it.timesteps);
      });
    }
  });
});

describe('diffuse and mixFrequencies against the oracle (replaying its recorded tensors)', () => {
  const latentsInit = toF32(pipelineInputs.get('latents_init')!);
  for (const run of Object.keys(config.runs)) {
    const r = config.runs[run];
    const [, C, F, h, w] = outputs.get(`${run}.free_init.freq_filter`)!.shape;
    const ac = createScheduler(r.scheduler_class, r.scheduler_config, r.num_inference_steps).alphasCumprod[r.diffuse.timestep];
    it(`${run}: √ᾱ₉₉₉ and √(1−ᾱ₉₉₉) are the recorded coefficients within one float32 ulp`, () => {
      // Correctly rounded here; torch's vectorised float32 `** 0.5` is not always (√(1−ᾱ₉₉₉) comes out 1 ulp high).
      const ulp = (v: number) => 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);
      for (const [got, want] of [[Math.sqrt(ac), r.diffuse.sqrt_alpha_prod], [Math.sqrt(Math.fround(1 - ac)), r.diffuse.sqrt_one_minus_alpha_prod]]) {
        expect(Math.abs(Math.fround(got) - want)).toBeLessThanOrEqual(ulp(want));
      }
    });
    for (const sfx of ['', '_official']) {
      it(`${run}${sfx}: z_t = add_noise(iteration 0's final latents, latents_init, 999), then the mix gives latents_start`, () => {
        const last = r.iterations[0].timesteps.length - 1;
        const final0 = toF32(outputs.get(`${run}.iter0.step${last}.latents_out${sfx}`)!);
        const zT = diffuse(final0, latentsInit, ac);
        const zRef = outputs.get(`${run}.free_init.iter1.z_t${sfx}`)!;
        expect(maxAbsDiff(zT, zRef.data).maxAbs).toBeLessThanOrEqual(5e-7); // float32 rounding of O(4) values
        const e = r.enable_free_init;
        const filter = freeInitFilter(F, h, w, { method: e.method, order: e.order, spatialStopFrequency: e.spatial_stop_frequency, temporalStopFrequency: e.temporal_stop_frequency });
        const zRand = toF32(outputs.get(`${run}.free_init.iter1.z_rand`)!);
        const start = mixFrequencies(toF32(zRef), zRand, filter, C, F, h, w);
        // The oracle's float32 (complex64) FFTs vs float64 here; its own f32-vs-f64 start error is ≈ 5e-7.
        const d = maxAbsDiff(start, outputs.get(`${run}.free_init.iter1.latents_start${sfx}`)!.data);
        expect(d.maxAbs).toBeLessThan(2e-6);
        expect(d.refMax).toBeGreaterThan(1);
      });
    }
  }
});

describe('mixFrequencies vs diffusers\' formula in float64 (direct DFT sums, both spectra fftshifted)', () => {
  const roll = (n: number, k: number, s: number) => (((k - s) % n) + n) % n;
  /** Re ifftn(ifftshift(fftshift(fftn(z))·L + fftshift(fftn(r))·(1−L))) per channel, by direct sums. */
  function reference(z: Float32Array, r: Float32Array, L: Float32Array, C: number, F: number, h: number, w: number): Float64Array {
    const vol = F * h * w, out = new Float64Array(C * vol);
    const dft = (x: ArrayLike<number>, xi: ArrayLike<number>, s: number) => {
      const or = new Float64Array(vol), oi = new Float64Array(vol);
      for (let a = 0; a < F; a++) for (let b = 0; b < h; b++) for (let c = 0; c < w; c++) {
        let sr = 0, si = 0;
        for (let t = 0; t < F; t++) for (let y = 0; y < h; y++) for (let q = 0; q < w; q++) {
          const ang = s * 2 * Math.PI * (((a * t) % F) / F + ((b * y) % h) / h + ((c * q) % w) / w);
          const i = (t * h + y) * w + q;
          sr += x[i] * Math.cos(ang) - xi[i] * Math.sin(ang);
          si += x[i] * Math.sin(ang) + xi[i] * Math.cos(ang);
        }
        or[(a * h + b) * w + c] = sr;
        oi[(a * h + b) * w + c] = si;
      }
      return [or, oi];
    };
    // fftshift: shifted[k] = X[(k − ⌊n/2⌋) mod n] per axis; ifftshift: back[k] = S[(k + ⌊n/2⌋) mod n].
    const shift = (x: Float64Array, inv: boolean) => {
      const o = new Float64Array(vol);
      const sgn = inv ? -1 : 1;
      for (let a = 0; a < F; a++) for (let b = 0; b < h; b++) for (let c = 0; c < w; c++) {
        o[(a * h + b) * w + c] = x[(roll(F, a, sgn * Math.floor(F / 2)) * h + roll(h, b, sgn * Math.floor(h / 2))) * w + roll(w, c, sgn * Math.floor(w / 2))];
      }
      return o;
    };
    const zero = new Float64Array(vol);
    for (let ch = 0; ch < C; ch++) {
      const [zr, zi] = dft(z.subarray(ch * vol, (ch + 1) * vol), zero, -1);
      const [nr, ni] = dft(r.subarray(ch * vol, (ch + 1) * vol), zero, -1);
      const [Zr, Zi, Nr, Ni] = [zr, zi, nr, ni].map((x) => shift(x, false));
      const mr = new Float64Array(vol), mi = new Float64Array(vol);
      for (let i = 0; i < vol; i++) {
        const hp = Math.fround(1 - L[i]);
        mr[i] = Zr[i] * L[i] + Nr[i] * hp;
        mi[i] = Zi[i] * L[i] + Ni[i] * hp;
      }
      const [or] = dft(shift(mr, true), shift(mi, true), 1);
      for (let i = 0; i < vol; i++) out[ch * vol + i] = or[i] / vol;
    }
    return out;
  }

  for (const [C, F, h, w, method] of [[2, 6, 4, 4, 'butterworth'], [1, 5, 3, 7, 'gaussian'], [2, 7, 4, 5, 'ideal'], [1, 9, 2, 6, 'butterworth']] as const) {
    it(`${C}×${F}×${h}×${w} ${method}${F % 2 ? ' (odd frames: the filter centre is not the zero frequency)' : ''}`, () => {
      const n = C * F * h * w;
      const z = randn(n, 21), r = randn(n, 22);
      const L = freeInitFilter(F, h, w, { method, order: 3, spatialStopFrequency: 0.4, temporalStopFrequency: 0.3 });
      const got = mixFrequencies(z, r, L, C, F, h, w);
      const ref = reference(z, r, L, C, F, h, w);
      expect(maxAbsDiff(got, ref).maxAbs).toBeLessThan(1e-6); // float32 rounding of O(1) values
      // Not a trivial pass: the output differs from both inputs.
      expect(maxAbsDiff(got, z).maxAbs).toBeGreaterThan(0.05);
      expect(maxAbsDiff(got, r).maxAbs).toBeGreaterThan(0.05);
    });
  }

  it('filter 1 everywhere keeps z_t; a zero filter gives z_rand', () => {
    const [C, F, h, w] = [2, 4, 3, 5];
    const z = randn(C * F * h * w, 3), r = randn(C * F * h * w, 4);
    expect(maxAbsDiff(mixFrequencies(z, r, new Float32Array(F * h * w).fill(1), C, F, h, w), z).maxAbs).toBeLessThan(1e-6);
    expect(maxAbsDiff(mixFrequencies(z, r, new Float32Array(F * h * w), C, F, h, w), r).maxAbs).toBeLessThan(1e-6);
  });

  it('rejects mismatched sizes', () => {
    expect(() => mixFrequencies(new Float32Array(8), new Float32Array(8), new Float32Array(4), 1, 2, 2, 2)).toThrow(/filter has 4 values/);
    expect(() => mixFrequencies(new Float32Array(8), new Float32Array(7), new Float32Array(8), 1, 2, 2, 2)).toThrow(/z_rand 7/);
    expect(() => diffuse(new Float32Array(2), new Float32Array(3), 0.5)).toThrow(/initial noise 3/);
  });
});

describe('freeInitNoise (the seeded stream FreeInit draws z_rand from)', () => {
  it('is fixed by the seed, apart from the initial noise, and differs per iteration', () => {
    const n = 4096;
    const a = freeInitNoise(42)(n, 1);
    expect([...freeInitNoise(42)(n, 1)]).toEqual([...a]);
    expect(freeInitNoise(42)(n, 2)).toEqual(gaussian(lowbias32(42 ^ 0x4672496e), n, n)); // iteration k at offset (k−1)·n
    expect(maxAbsDiff(a, freeInitNoise(42)(n, 2)).maxAbs).toBeGreaterThan(1);
    expect(maxAbsDiff(a, freeInitNoise(43)(n, 1)).maxAbs).toBeGreaterThan(1);
    expect(maxAbsDiff(a, initialNoise(42, 1, 1, 64, 64)).maxAbs).toBeGreaterThan(1);
    const mean = a.reduce((s, v) => s + v, 0) / n, sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(0.06); // 4σ of the mean of 4096 unit normals
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
    expect(() => freeInitNoise(1)(n, 0)).toThrow(/iterations ≥ 1/);
  });
});
