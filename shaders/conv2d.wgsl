// A loader for the GEMM core (matmul.wgsl) that turns it into a 2D convolution (implicit GEMM):
//   out[m = (img*Ho + oy)*Wo + ox, n = cout] = sum_k A[m, k] * Wt[cout, k],
//   k = (ky*KW + kx)*Cin + ci,  A[m, k] = x[img, oy*stride + ky - pad, ox*stride + kx - pad, ci] (0 outside).
// Layout choice: activations are channels-last (NHWC) and weights are prepared as (Cout, KH, KW, Cin),
// so the reduction index k runs over Cin fastest: consecutive k are consecutive addresses in both the
// image and the weight, the im2col matrix is never materialised, and the weight is exactly the
// transposed B of a linear layer (matmul_b*.wgsl). This variant loads scalars (any Cin).
@group(0) @binding(1) var<storage, read> x: array<T>;

// Per-thread row context: image base offset and the top-left input coordinate of its window.
struct ARow { base: u32, iy0: i32, ix0: i32, ok: bool }

fn a_row(batch: u32, m: u32) -> ARow {
  let ox = m % p.Wo;
  let t = m / p.Wo;
  let oy = t % p.Ho;
  let img = t / p.Ho;
  return ARow(img * p.H * p.W * p.Cin, i32(oy * p.stride) - p.pad, i32(ox * p.stride) - p.pad, m < p.M);
}

fn load_a1(r: ARow, k: u32) -> f32 {
  if (k >= p.K) { return 0.0; }
  let ci = k % p.Cin;
  let tap = k / p.Cin;
  let iy = r.iy0 + i32(tap / p.KW);
  let ix = r.ix0 + i32(tap % p.KW);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { return 0.0; }
  return f32(x[r.base + (u32(iy) * p.W + u32(ix)) * p.Cin + ci]);
}

fn load_a4(r: ARow, k: u32) -> vec4<f32> {
  if (!r.ok) { return vec4<f32>(0.0); }
  return vec4<f32>(load_a1(r, k), load_a1(r, k + 1u), load_a1(r, k + 2u), load_a1(r, k + 3u));
}
