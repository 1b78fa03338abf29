// A loader for the GEMM core (matmul.wgsl): 2D convolution as implicit GEMM, for Cin % 4 == 0.
// Same indexing as conv2d.wgsl (k = (ky*KW + kx)*Cin + ci over an NHWC image; see the layout note
// there). Because Cin % 4 == 0 and k % 4 == 0, k..k+3 lie in one kernel tap and are 4 consecutive
// channels of one pixel: a single vec4 load (or zero for padding).
@group(0) @binding(1) var<storage, read> x: array<vec4<T>>;

struct ARow { base: u32, iy0: i32, ix0: i32, ok: bool }

fn a_row(batch: u32, m: u32) -> ARow {
  let ox = m % p.Wo;
  let t = m / p.Wo;
  let oy = t % p.Ho;
  let img = t / p.Ho;
  return ARow(img * p.H * p.W * p.Cin, i32(oy * p.stride) - p.pad, i32(ox * p.stride) - p.pad, m < p.M);
}

fn load_a4(r: ARow, k: u32) -> vec4<f32> {
  if (!r.ok || k >= p.K) { return vec4<f32>(0.0); }
  let ci = k % p.Cin;
  let tap = k / p.Cin;
  let iy = r.iy0 + i32(tap / p.KW);
  let ix = r.ix0 + i32(tap % p.KW);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { return vec4<f32>(0.0); }
  return vec4<f32>(x[(r.base + (u32(iy) * p.W + u32(ix)) * p.Cin + ci) / 4u]);
}
