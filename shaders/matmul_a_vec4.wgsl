// A loader for the GEMM core (matmul.wgsl): dense row-major A [batch, M, K] with K % 4 == 0, so
// every row starts on a vec4 boundary and the 4 values at k..k+3 are one vec4 load.
@group(0) @binding(1) var<storage, read> a: array<vec4<T>>;

struct ACursor { idx: u32, k: u32, ok: bool }

fn a_cursor(batch: u32, m: u32, k: u32) -> ACursor {
  return ACursor((batch * p.strideA + m * p.K + k) / 4u, k, m < p.M);
}

fn a_next(c: ptr<function, ACursor>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if ((*c).ok && (*c).k < p.K) { v = vec4<f32>(a[(*c).idx]); }
  (*c).idx += TK / 4u;
  (*c).k += TK;
  return v;
}
