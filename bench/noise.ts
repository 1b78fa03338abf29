// Deterministic random inputs and weights for the benchmark cases (bench/ does not import tests/).

/** Triangular noise (sum of two uniforms, LCG) with unit variance × scale: cheap enough for 100M values. */
export function noise(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (u + s / 4294967296 - 1) * 2.45 * scale;
  }
  return out;
}
