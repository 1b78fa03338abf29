// Complex FFTs of any length, in float64, for FreeInit's frequency filter (freeinit.ts) on the CPU.
//
// One length n is planned once (FftPlan) and then transforms many lines:
//   forward  X[k] = Σ_j x[j]·e^{−2πi jk/n},   inverse  x[j] = Σ_k X[k]·e^{+2πi jk/n}   (unnormalised; fftn3 divides)
// - n a power of two: iterative radix-2 (bit-reversal permutation, then log₂n butterfly passes), in place;
// - n whose prime factors are all ≤ MAX_DIRECT_RADIX: mixed-radix Cooley–Tukey, decimation in time. For n = p·m
//   (p the first factor): X[k + q·m] = Σ_r W_n^{r(k+q·m)} · Y_r[k], Y_r = DFT_m(x[r], x[r+p], …), r < p, q < p, k < m;
//   the p-point sums are done directly, so the cost is n·Σ p over the factors.
// - otherwise (a large prime factor, e.g. 127 frames) Bluestein: jk = (j² + k² − (k−j)²)/2 turns the DFT into a
//   convolution with the chirp w_j = e^{−πi j²/n}: X[k] = w_k · Σ_j (x_j w_j) · conj(w_{k−j}), computed by power-of-2
//   FFTs of length M ≥ 2n − 1. The chirp's angle uses j² mod 2n, so it stays exact for large j.
// Latent sides are not always powers of two (frames are anything; h = H/8), hence both paths.

/** Largest prime factor handled by direct p-point butterflies; beyond it Bluestein is cheaper. */
const MAX_DIRECT_RADIX = 31;

function primeFactors(n: number): number[] {
  const f: number[] = [];
  while (n % 2 === 0) { f.push(2); n /= 2; }
  for (let p = 3; p * p <= n; p += 2) while (n % p === 0) { f.push(p); n /= p; }
  if (n > 1) f.push(n);
  return f;
}

export class FftPlan {
  private readonly factors: number[];
  /** e^{−2πi j/n}, j < n. */
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;
  /** Per-butterfly temporaries (length of the largest factor). */
  private readonly tRe: Float64Array;
  private readonly tIm: Float64Array;
  private readonly bluestein: Bluestein | null;
  /** Bit-reversal permutation when n is a power of two (the radix-2 path), else null. */
  private readonly bitrev: Int32Array | null;

  /**
   * `method` forces a path (tests): 'mixed' = Cooley–Tukey (radix-2 for powers of two, else mixed radix), 'bluestein';
   * default: Cooley–Tukey unless a prime factor exceeds MAX_DIRECT_RADIX.
   */
  constructor(readonly n: number, method?: 'mixed' | 'bluestein') {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT length ${n} must be a positive integer`);
    this.factors = primeFactors(n);
    const useBluestein = method ? method === 'bluestein' : Math.max(...this.factors, 1) > MAX_DIRECT_RADIX;
    this.bluestein = useBluestein && n > 1 ? new Bluestein(n) : null;
    this.cos = new Float64Array(n);
    this.sin = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * j) / n;
      this.cos[j] = Math.cos(a);
      this.sin[j] = Math.sin(a);
    }
    this.scratchRe = new Float64Array(n);
    this.scratchIm = new Float64Array(n);
    this.tRe = new Float64Array(Math.max(...this.factors, 1));
    this.tIm = new Float64Array(this.tRe.length);
    this.bitrev = null;
    if (!this.bluestein && (n & (n - 1)) === 0) {
      const bits = Math.log2(n);
      this.bitrev = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let r = 0;
        for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
        this.bitrev[i] = r;
      }
    }
  }

  /** In-place radix-2 decimation in time: X = butterflies over bit-reversed input, half-lengths 1, 2, 4, … */
  private radix2(re: Float64Array, im: Float64Array, sgn: number): void {
    const n = this.n, rev = this.bitrev!, cos = this.cos, sin = this.sin;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[i]; re[i] = re[j]; re[j] = t;
        t = im[i]; im[i] = im[j]; im[j] = t;
      }
    }
    for (let half = 1; half < n; half *= 2) {
      const tw = n / (2 * half); // W_{2·half}^k = W_n^{k·n/(2·half)}
      for (let start = 0; start < n; start += 2 * half) {
        for (let k = 0; k < half; k++) {
          const a = start + k, b = a + half;
          const c = cos[k * tw], s = sgn * sin[k * tw];
          const br = re[b] * c - im[b] * s, bi = re[b] * s + im[b] * c;
          re[b] = re[a] - br; im[b] = im[a] - bi;
          re[a] += br; im[a] += bi;
        }
      }
    }
  }

  /** Transform re + i·im (length n) in place; `inverse` uses e^{+2πi…} and does not divide by n. */
  transform(re: Float64Array, im: Float64Array, inverse = false): void {
    if (re.length !== this.n || im.length !== this.n) throw new RangeError(`FFT of length ${this.n} got arrays of ${re.length} and ${im.length}`);
    if (this.n === 1) return;
    if (this.bluestein) {
      this.bluestein.transform(re, im, inverse);
      return;
    }
    if (this.bitrev) {
      this.radix2(re, im, inverse ? -1 : 1);
      return;
    }
    this.scratchRe.set(re);
    this.scratchIm.set(im);
    this.rec(this.scratchRe, this.scratchIm, 0, 1, re, im, 0, this.n, 0, inverse ? -1 : 1);
  }

  // DFT of the n elements in[inOff + j·inStride] into out[outOff .. outOff + n).
  private rec(
    inRe: Float64Array, inIm: Float64Array, inOff: number, inStride: number,
    outRe: Float64Array, outIm: Float64Array, outOff: number, n: number, level: number, sgn: number,
  ): void {
    if (n === 1) {
      outRe[outOff] = inRe[inOff];
      outIm[outOff] = inIm[inOff];
      return;
    }
    const p = this.factors[level], m = n / p;
    for (let r = 0; r < p; r++) this.rec(inRe, inIm, inOff + r * inStride, inStride * p, outRe, outIm, outOff + r * m, m, level + 1, sgn);
    const N = this.n, cos = this.cos, sin = this.sin;
    const tw = N / n; // W_n^j = W_N^{j·N/n}
    if (p === 2) {
      for (let k = 0; k < m; k++) {
        const a = outOff + k, b = a + m;
        const c = cos[k * tw], s = sgn * sin[k * tw];
        const br = outRe[b] * c - outIm[b] * s, bi = outRe[b] * s + outIm[b] * c;
        const ar = outRe[a], ai = outIm[a];
        outRe[a] = ar + br; outIm[a] = ai + bi;
        outRe[b] = ar - br; outIm[b] = ai - bi;
      }
      return;
    }
    const { tRe, tIm } = this;
    const step = N / p; // W_p^j = W_N^{j·N/p}
    for (let k = 0; k < m; k++) {
      // t_r = W_n^{r·k} · Y_r[k]
      for (let r = 0; r < p; r++) {
        const idx = outOff + r * m + k;
        const j = (r * k * tw) % N;
        const c = cos[j], s = sgn * sin[j];
        tRe[r] = outRe[idx] * c - outIm[idx] * s;
        tIm[r] = outRe[idx] * s + outIm[idx] * c;
      }
      // X[k + q·m] = Σ_r t_r · W_p^{r·q}
      for (let q = 0; q < p; q++) {
        let sr = 0, si = 0;
        for (let r = 0; r < p; r++) {
          const j = ((r * q) % p) * step;
          const c = cos[j], s = sgn * sin[j];
          sr += tRe[r] * c - tIm[r] * s;
          si += tRe[r] * s + tIm[r] * c;
        }
        outRe[outOff + q * m + k] = sr;
        outIm[outOff + q * m + k] = si;
      }
    }
  }
}

/** Bluestein's chirp-z transform of length n through power-of-2 FFTs of length M ≥ 2n − 1. */
class Bluestein {
  private readonly M: number;
  private readonly inner: FftPlan;
  /** Chirp w_j = e^{−πi j²/n}, j < n. */
  private readonly wRe: Float64Array;
  private readonly wIm: Float64Array;
  /** FFT of the kernel b_j = conj(w_{|j|}) laid out circularly over M. */
  private readonly bRe: Float64Array;
  private readonly bIm: Float64Array;
  private readonly aRe: Float64Array;
  private readonly aIm: Float64Array;

  constructor(private readonly n: number) {
    let M = 1;
    while (M < 2 * n - 1) M *= 2;
    this.M = M;
    this.inner = new FftPlan(M, 'mixed');
    this.wRe = new Float64Array(n);
    this.wIm = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const a = (-Math.PI * ((j * j) % (2 * n))) / n;
      this.wRe[j] = Math.cos(a);
      this.wIm[j] = Math.sin(a);
    }
    this.bRe = new Float64Array(M);
    this.bIm = new Float64Array(M);
    for (let j = 0; j < n; j++) {
      this.bRe[j] = this.wRe[j];
      this.bIm[j] = -this.wIm[j];
      if (j > 0) {
        this.bRe[M - j] = this.wRe[j];
        this.bIm[M - j] = -this.wIm[j];
      }
    }
    this.inner.transform(this.bRe, this.bIm);
    this.aRe = new Float64Array(M);
    this.aIm = new Float64Array(M);
  }

  transform(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const { n, M, wRe, wIm, aRe, aIm } = this;
    // The inverse is conj(forward(conj(x))).
    const s = inverse ? -1 : 1;
    aRe.fill(0);
    aIm.fill(0);
    for (let j = 0; j < n; j++) {
      const xr = re[j], xi = s * im[j];
      aRe[j] = xr * wRe[j] - xi * wIm[j];
      aIm[j] = xr * wIm[j] + xi * wRe[j];
    }
    this.inner.transform(aRe, aIm);
    for (let k = 0; k < M; k++) {
      const r = aRe[k] * this.bRe[k] - aIm[k] * this.bIm[k];
      aIm[k] = aRe[k] * this.bIm[k] + aIm[k] * this.bRe[k];
      aRe[k] = r;
    }
    this.inner.transform(aRe, aIm, true);
    for (let k = 0; k < n; k++) {
      const cr = aRe[k] / M, ci = aIm[k] / M;
      re[k] = cr * wRe[k] - ci * wIm[k];
      im[k] = s * (cr * wIm[k] + ci * wRe[k]);
    }
  }
}

/**
 * In-place 3-D FFT over the last three axes of `count` contiguous volumes of shape dims = [d0, d1, d2] (row-major:
 * torch.fft.fftn(x, dim=(-3, -2, -1)) on (…, d0, d1, d2)). The inverse divides by d0·d1·d2 (torch's ifftn).
 */
export function fftn3(re: Float64Array, im: Float64Array, dims: readonly [number, number, number], inverse = false): void {
  const [d0, d1, d2] = dims;
  const vol = d0 * d1 * d2;
  if (re.length !== im.length || vol === 0 || re.length % vol !== 0) {
    throw new RangeError(`fftn3: arrays of ${re.length} and ${im.length} values are not whole volumes of ${d0}×${d1}×${d2}`);
  }
  const count = re.length / vol;
  const strides = [d1 * d2, d2, 1];
  for (let axis = 0; axis < 3; axis++) {
    const n = dims[axis];
    if (n === 1) continue;
    const plan = new FftPlan(n);
    const lr = new Float64Array(n), li = new Float64Array(n);
    const st = strides[axis];
    // Every line along `axis`: its start has index 0 on that axis.
    for (let v = 0; v < count; v++) {
      for (let base = v * vol, i = 0; i < vol; i++) {
        if (Math.floor(i / st) % n !== 0) continue;
        const o = base + i;
        for (let j = 0; j < n; j++) { lr[j] = re[o + j * st]; li[j] = im[o + j * st]; }
        plan.transform(lr, li, inverse);
        for (let j = 0; j < n; j++) { re[o + j * st] = lr[j]; im[o + j * st] = li[j]; }
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < re.length; i++) { re[i] /= vol; im[i] /= vol; }
  }
}

/**
 * numpy/torch fftshift of one axis length n: shifted[k] = x[(k − ⌊n/2⌋) mod n] (zero frequency moves to ⌊n/2⌋);
 * ifftshift is its inverse. Returned as the source index of each position.
 */
export function fftshiftIndex(n: number, inverse = false): Int32Array {
  const s = Math.floor(n / 2);
  const out = new Int32Array(n);
  for (let k = 0; k < n; k++) out[k] = inverse ? (k + s) % n : (((k - s) % n) + n) % n;
  return out;
}
