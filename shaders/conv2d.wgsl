// A loader for the GEMM core (matmul.wgsl) that turns it into a 2D convolution (implicit GEMM):
//   out[m = (img*Ho + oy)*Wo + ox, n = cout] = sum_k A[m, k] * Wt[cout, k],
//   k = (ky*KW + kx)*Cin + ci,  A[m, k] = x[img, oy*stride + ky - padY, ox*stride + kx - pad, ci] (0 outside).
// Layout choice: activations are channels-last (NHWC) and weights are prepared as (Cout, KH, KW, Cin),
// so the reduction index k runs over Cin fastest: consecutive k are consecutive addresses in both the
// image and the weight, the im2col matrix is never materialised, and the weight is exactly the
// transposed B of a linear layer (matmul_b*.wgsl). This variant loads scalars (any Cin).
@group(0) @binding(1) var<storage, read> x: array<T>;

// Per-thread cursor over one output pixel's im2col row: image base offset, top-left input coordinate
// of its window, and the current reduction position k = (ky*KW + kx)*Cin + ci.
struct ACursor { base: u32, iy0: i32, ix0: i32, ci: u32, kx: u32, ky: u32, k: u32, ok: bool }

fn a_cursor(batch: u32, m: u32, k: u32) -> ACursor {
  let ox = m % p.Wo;
  let t = m / p.Wo;
  let oy = t % p.Ho;
  let img = t / p.Ho;
  let tap = k / p.Cin;
  return ACursor(img * p.H * p.W * p.Cin, i32(oy * p.stride) - p.padY, i32(ox * p.stride) - p.pad,
                 k % p.Cin, tap % p.KW, tap / p.KW, k, m < p.M);
}

// Move the cursor `by` steps along k without dividing (ci wraps into kx, kx into ky).
fn a_advance(c: ptr<function, ACursor>, by: u32) {
  (*c).k += by;
  (*c).ci += by;
  while ((*c).ci >= p.Cin) {
    (*c).ci -= p.Cin;
    (*c).kx += 1u;
    if ((*c).kx == p.KW) { (*c).kx = 0u; (*c).ky += 1u; }
  }
}

// Element offset of the cursor's input value, or -1 in the zero padding.
fn a_offset(c: ptr<function, ACursor>) -> i32 {
  let iy = (*c).iy0 + i32((*c).ky);
  let ix = (*c).ix0 + i32((*c).kx);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { return -1; }
  return i32((*c).base + (u32(iy) * p.W + u32(ix)) * p.Cin + (*c).ci);
}

fn a_next(c: ptr<function, ACursor>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if ((*c).ok && (*c).k < p.K) {
      let o = a_offset(c);
      if (o >= 0) { v[i] = f32(x[o]); }
    }
    a_advance(c, 1u);
  }
  a_advance(c, TK - 4u);
  return v;
}
