// FreeInit noise re-initialisation, as diffusers v0.39.0 `FreeInitMixin` (pipelines/free_init_utils.py) and
// AnimateDiffPipeline (pipeline_animatediff.py:804-858); docs/pipeline.md "FreeInit". Pure CPU functions on
// latents in diffusers' layout (1, C, F, h, w):
//   iteration 0:   initial = latents (after × init_noise_sigma); sample as usual
//   iteration k≥1: z_t    = √ᾱ₉₉₉ · latents + √(1−ᾱ₉₉₉) · initial        (the previous iteration's final latents,
//                                                                          the SAME initial noise every iteration)
//                  latents = Re ifftn( fftn(z_t)·L + fftn(z_rand)·(1 − L) )  (3-D over F×h×w, per channel;
//                                                                          L the low-pass filter, fresh z_rand)
//                  — not multiplied by init_noise_sigma; the scheduler is reset (set_timesteps) for each iteration.
// FreeInit computes in float32 in diffusers (filter, z_t, z_rand, complex64 FFTs); here the FFTs run in float64 and
// the results are rounded to float32, which is closer to the exact value than torch's float32 transform.
// The options (iterations, method, order, stop frequencies, fast sampling) are the GenerationSpec's `freeInit`
// (spec.ts: FreeInitOptions, validated by parseSpec).
import { fftn3, fftshiftIndex } from './fft';
import type { FreeInitOptions } from './spec';

/** The low-pass filter's parameters: d_s = spatialStopFrequency, d_t = temporalStopFrequency, Butterworth order. */
export type FreeInitFilterParams = Pick<FreeInitOptions, 'method' | 'order' | 'spatialStopFrequency' | 'temporalStopFrequency'>;

/**
 * The low-pass filter L over (frames, h, w), in fftshift order (zero frequency at index n/2 for even n), as
 * `_get_free_init_freq_filter` (free_init_utils.py:73-115): Python float64 math stored in float32,
 *   d² = ((d_s/d_t)·(2t/F − 1))² + (2y/h − 1)² + (2x/w − 1)²
 *   butterworth 1/(1 + (d²/d_s²)^order),  gaussian exp(−d²/(2 d_s²)),  ideal 1 if d² ≤ 2·d_s (sic: 2·d_s, not d_s²),
 * and all zeros when d_s or d_t is 0. diffusers repeats it over the channels; this returns one (F, h, w) volume.
 * For odd sizes the formula's centre (n/2) is not fftshift's zero frequency ((n−1)/2); diffusers keeps that.
 */
export function freeInitFilter(frames: number, h: number, w: number, p: FreeInitFilterParams): Float32Array {
  for (const [k, v] of [['frames', frames], ['h', h], ['w', w]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`freeInitFilter: ${k} ${v} must be a positive integer`);
  }
  const out = new Float32Array(frames * h * w);
  const ds = p.spatialStopFrequency, dt = p.temporalStopFrequency;
  if (ds === 0 || dt === 0) return out;
  let mask: (d2: number) => number;
  switch (p.method) {
    case 'butterworth': mask = (d2) => 1 / (1 + (d2 / ds ** 2) ** p.order); break;
    case 'gaussian': mask = (d2) => Math.exp((-1 / (2 * ds ** 2)) * d2); break;
    case 'ideal': mask = (d2) => (d2 <= ds * 2 ? 1 : 0); break;
    default: throw new RangeError(`freeInitFilter: method '${String(p.method)}' is not butterworth, gaussian or ideal`);
  }
  let i = 0;
  for (let t = 0; t < frames; t++) {
    const a = (ds / dt) * ((2 * t) / frames - 1);
    for (let y = 0; y < h; y++) {
      const b = (2 * y) / h - 1;
      for (let x = 0; x < w; x++) {
        const c = (2 * x) / w - 1;
        out[i++] = mask(a ** 2 + b ** 2 + c ** 2);
      }
    }
  }
  return out;
}

/**
 * Steps of iteration k (0-based) of `iterations`: with fast sampling ("coarse-to-fine", free_init_utils.py:180-184)
 * max(1, int(steps / iterations · (k + 1))) — Python's float division and truncation; else `steps`.
 */
export function freeInitIterationSteps(steps: number, iterations: number, k: number, fastSampling: boolean): number {
  return fastSampling ? Math.max(1, Math.trunc((steps / iterations) * (k + 1))) : steps;
}

/**
 * z_t = scheduler.add_noise(latents, initial, t) for ε-schedulers with an ᾱ table (DDPM/DDIM/LCM `add_noise`), in
 * float32 as torch: √ᾱ_t and √(1 − ᾱ_t) rounded to float32, then sa·x + sb·n per element.
 */
export function diffuse(latents: Float32Array, initial: Float32Array, alphaCumprod: number): Float32Array {
  if (latents.length !== initial.length) throw new RangeError(`diffuse: latents have ${latents.length} values, the initial noise ${initial.length}`);
  const f = Math.fround;
  const sa = f(Math.sqrt(alphaCumprod)), sb = f(Math.sqrt(f(1 - alphaCumprod)));
  const out = new Float32Array(latents.length);
  for (let i = 0; i < out.length; i++) out[i] = f(sa * latents[i]) + f(sb * initial[i]);
  return out;
}

/**
 * `_apply_freq_filter` (free_init_utils.py:117-135) on `channels` volumes of (F, h, w): the low frequencies of z_t
 * and the high frequencies of z_rand,
 *   Re ifftn(ifftshift( fftshift(fftn(z_t))·L + fftshift(fftn(z_rand))·(1 − L) )).
 * Since the mix is element-wise, ifftshift(fftshift(X)·L) = X·ifftshift(L): the filter is moved to natural
 * frequency order once instead of shifting both spectra. `filter` is (F, h, w) in fftshift order (freeInitFilter),
 * the same for every channel; 1 − L is taken in float32 as torch does.
 */
export function mixFrequencies(
  zT: Float32Array, zRand: Float32Array, filter: Float32Array, channels: number, frames: number, h: number, w: number,
): Float32Array {
  const vol = frames * h * w, n = channels * vol;
  if (zT.length !== n || zRand.length !== n) {
    throw new RangeError(`mixFrequencies: z_t has ${zT.length} and z_rand ${zRand.length} values, expected (1, ${channels}, ${frames}, ${h}, ${w})`);
  }
  if (filter.length !== vol) throw new RangeError(`mixFrequencies: the filter has ${filter.length} values, expected (${frames}, ${h}, ${w})`);
  // Low and high pass in natural order: G[k] = L[ifftshift-source(k)] per axis.
  const [st, sy, sx] = [fftshiftIndex(frames, true), fftshiftIndex(h, true), fftshiftIndex(w, true)];
  const low = new Float64Array(vol), high = new Float64Array(vol);
  for (let t = 0, i = 0; t < frames; t++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++, i++) {
    const l = filter[(st[t] * h + sy[y]) * w + sx[x]];
    low[i] = l;
    high[i] = Math.fround(1 - l);
  }
  // Both inputs are real, so one complex transform gives both spectra: Z = fftn(z_t + i·z_rand), and with
  // Z̃[k] = conj(Z[−k]) (indices mod each size): fftn(z_t) = (Z + Z̃)/2, fftn(z_rand) = (Z − Z̃)/(2i).
  const dims = [frames, h, w] as const;
  const zr = Float64Array.from(zT), zi = Float64Array.from(zRand);
  fftn3(zr, zi, dims);
  const mr = new Float64Array(n), mi = new Float64Array(n);
  for (let c = 0; c < channels; c++) {
    const base = c * vol;
    for (let t = 0, i = 0; t < frames; t++) {
      const tn = (frames - t) % frames;
      for (let y = 0; y < h; y++) {
        const yn = (h - y) % h;
        for (let x = 0; x < w; x++, i++) {
          const j = base + (tn * h + yn) * w + (w - x) % w;
          const ar = zr[base + i], ai = zi[base + i], br = zr[j], bi = zi[j];
          // X = fftn(z_t)[k], N = fftn(z_rand)[k]
          const xRe = (ar + br) / 2, xIm = (ai - bi) / 2;
          const nRe = (ai + bi) / 2, nIm = (br - ar) / 2;
          mr[base + i] = xRe * low[i] + nRe * high[i];
          mi[base + i] = xIm * low[i] + nIm * high[i];
        }
      }
    }
  }
  fftn3(mr, mi, dims, true);
  return Float32Array.from(mr);
}
