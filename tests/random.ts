// Deterministic random data for tests (mulberry32 + Box-Muller): failures reproduce exactly.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12), v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v) * scale;
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v) * scale;
  }
  return out;
}

/** Max |a-b| and the max |b| (the reference), for tolerance checks relative to the output's scale. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; refMax: number; at: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxAbs = 0, refMax = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxAbs)) { maxAbs = d; at = i; } // NaN counts as the worst
    refMax = Math.max(refMax, Math.abs(b[i]));
  }
  return { maxAbs, refMax, at };
}
