import activationsWgsl from '../../shaders/activations.wgsl?raw';

/** Activations that kernels can fuse into their epilogue (ids match shaders/activations.wgsl). */
export type Activation = 'none' | 'silu' | 'gelu' | 'quick_gelu' | 'gelu_tanh';

export const ACTIVATION_ID: Record<Activation, number> = { none: 0, silu: 1, gelu: 2, quick_gelu: 3, gelu_tanh: 4 };

/** WGSL source of `activate(x: f32, id: u32) -> f32` and friends, to prepend to a kernel. */
export const ACTIVATIONS_WGSL: string = activationsWgsl;

/** CPU twins in float64, for references in tests. */
export function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for a reference; use a series/continued-fraction pair (|err| < 1e-15).
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = x, term = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export function activateCpu(x: number, a: Activation): number {
  switch (a) {
    case 'silu': return x / (1 + Math.exp(-x));
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'quick_gelu': return x / (1 + Math.exp(-1.702 * x));
    case 'gelu_tanh': return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    default: return x;
  }
}
