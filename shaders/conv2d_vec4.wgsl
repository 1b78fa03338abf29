// A loader for the GEMM core (matmul.wgsl): 2D convolution as implicit GEMM, for Cin % 4 == 0.
// Same indexing as conv2d.wgsl (k = (ky*KW + kx)*Cin + ci over an NHWC image; see the layout note
// there). Because Cin % 4 == 0 and k % 4 == 0, k..k+3 lie in one kernel tap and are 4 consecutive
// channels of one pixel: a single vec4 load (or zero for padding).
@group(0) @binding(1) var<storage, read> x: array<vec4<T>>;

// Per-thread cursor (as in conv2d.wgsl) over one output pixel's im2col row: image base offset, top-left input coordinate
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
  if ((*c).ok && (*c).k < p.K) {
    let o = a_offset(c);
    if (o >= 0) { v = vec4<f32>(x[u32(o) / 4u]); }
  }
  a_advance(c, TK);
  return v;
}
