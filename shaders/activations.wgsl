// Shared activation functions, prepended to kernels that fuse an activation (see src/ops/activation.ts).
// All math in f32. Ids: 0 none, 1 SiLU, 2 GELU (exact, erf), 3 quick-GELU (CLIP), 4 GELU (tanh approximation).

// erf(x) to ~1.2e-7 absolute (W. J. Cody-style rational fit via erfc; A&S 7.1.26 is too coarse at 1.5e-7
// relative near 0 for tiny inputs, so small |x| uses the Taylor series).
fn erf_f32(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 0.5) {
    let x2 = x * x;
    // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320)
    return 1.1283791670955126 * x * (1.0 + x2 * (-0.3333333333 + x2 * (0.1 + x2 * (-0.0238095238 + x2 * (0.0046296296 - x2 * 0.0007575758)))));
  }
  // Numerical Recipes erfc (Chebyshev), fractional error < 1.2e-7.
  let t = 1.0 / (1.0 + 0.5 * ax);
  let y = t * exp(-ax * ax - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(y - 1.0, 1.0 - y, x >= 0.0);
}

fn gelu_erf(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476)); }
fn gelu_tanh(x: f32) -> f32 { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }
fn silu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
fn quick_gelu(x: f32) -> f32 { return x / (1.0 + exp(-1.702 * x)); }

fn activate(x: f32, id: u32) -> f32 {
  switch id {
    case 1u: { return silu(x); }
    case 2u: { return gelu_erf(x); }
    case 3u: { return quick_gelu(x); }
    case 4u: { return gelu_tanh(x); }
    default: { return x; }
  }
}
