// Platform-independent Gaussian noise for the initial latents (docs/pipeline.md, "Initial noise").
//
// Counter-based: value k of seed s depends only on (s, k), so the stream can be generated in any order or in
// parts. All integer work is 32-bit (Math.imul, >>>), identical on every JS engine:
//   key    = lowbias32(s ^ 0x9e3779b9)
//   U32(k) = lowbias32(lowbias32(k ^ key) + 0x6a09e667)                  (k < 2^32)
// Pairs (2j, 2j+1) use Box–Muller in float64 with u1 = (U32(2j) + 1) / 2^32 ∈ (0, 1], u2 = U32(2j+1) / 2^32:
//   z[2j] = √(−2 ln u1) · cos(2π u2),  z[2j+1] = √(−2 ln u1) · sin(2π u2),  each rounded to float32.
// Math.log/cos/sin are not required to be correctly rounded by ECMAScript, but engines' results differ by at most
// an ulp of float64, which changes the float32 rounding only in ties (≈ 1 value in 2^29): the same seed gives the
// same latents on every machine and browser. This is NOT PyTorch's torch.randn (Philox/mt19937): seeds from
// PyTorch-based tools do not reproduce their images.

/** lowbias32 (Chris Wellons' integer hash): a bijective 32-bit mix with low bias. */
export function lowbias32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The k-th 32-bit word of seed `seed`'s stream. */
export function streamWord(seed: number, k: number): number {
  const key = lowbias32((seed >>> 0) ^ 0x9e3779b9);
  return lowbias32((lowbias32((k >>> 0) ^ key) + 0x6a09e667) >>> 0);
}

/** Normalise a user seed (any finite number) to the 32-bit value the generator uses. */
export function normalizeSeed(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  return Math.floor(Math.abs(seed)) % 4294967296;
}

/**
 * `count` standard-normal float32 values of `seed`'s stream, starting at value index `offset` (even offsets keep
 * Box–Muller pairs aligned; an odd offset is allowed and gives the same values as the full stream).
 */
export function gaussian(seed: number, count: number, offset = 0): Float32Array {
  const s = normalizeSeed(seed);
  const out = new Float32Array(count);
  const TWO_32 = 4294967296;
  let pairCached = -1, z0 = 0, z1 = 0;
  for (let i = 0; i < count; i++) {
    const k = offset + i;
    const pair = Math.floor(k / 2);
    if (pair !== pairCached) {
      const u1 = (streamWord(s, 2 * pair) + 1) / TWO_32;
      const u2 = streamWord(s, 2 * pair + 1) / TWO_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      z0 = r * Math.cos(2 * Math.PI * u2);
      z1 = r * Math.sin(2 * Math.PI * u2);
      pairCached = pair;
    }
    out[i] = k % 2 === 0 ? z0 : z1;
  }
  return out;
}

/** The initial latent noise (b=1, c, frames, h, w) of a seed, element order (c, f, y, x). */
export function initialNoise(seed: number, channels: number, frames: number, h: number, w: number): Float32Array {
  return gaussian(seed, channels * frames * h * w);
}

/**
 * Noise the LCM scheduler injects between steps: step i's values are the stream of seed `seed` at offset
 * (i + 1) · n (the initial latents use offset 0), so one seed fixes the whole run.
 */
export function schedulerNoise(seed: number): (n: number, step: number) => Float32Array {
  return (n, step) => gaussian(seed, n, (step + 1) * n);
}

/** Key of FreeInit's own stream (ASCII "FrIn"), xor-ed into the seed: a stream apart from the initial noise's. */
const FREE_INIT_STREAM = 0x4672496e;

/**
 * FreeInit's fresh noise z_rand for iteration k ≥ 1 (src/pipeline/freeinit.ts): the stream of seed
 * lowbias32(seed ^ "FrIn") at offset (k − 1) · n, so one seed fixes the whole run and the re-initialisation never
 * reuses the initial noise or the scheduler's.
 */
export function freeInitNoise(seed: number): (n: number, iteration: number) => Float32Array {
  const s = lowbias32(normalizeSeed(seed) ^ FREE_INIT_STREAM);
  return (n, iteration) => {
    if (!Number.isInteger(iteration) || iteration < 1) throw new RangeError(`FreeInit draws noise for iterations ≥ 1, not ${iteration}`);
    return gaussian(s, n, (iteration - 1) * n);
  };
}

/** Key of FreeNoise's shuffle stream (ASCII "FrNs"), xor-ed into the seed: apart from every other stream here. */
const FREE_NOISE_STREAM = 0x46724e73;

/**
 * The 32-bit words FreeNoise's shuffle_context permutations draw (src/pipeline/freenoise.ts): word k of seed
 * lowbias32(seed ^ "FrNs"), so the shuffle is fixed by the run's seed and independent of the noise it permutes.
 */
export function freeNoiseWords(seed: number): (k: number) => number {
  const s = lowbias32(normalizeSeed(seed) ^ FREE_NOISE_STREAM);
  return (k) => streamWord(s, k);
}
