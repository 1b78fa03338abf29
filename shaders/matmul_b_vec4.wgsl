// B loader for the GEMM core (matmul.wgsl): B is [batch, N, K] (transposed: column n contiguous in k)
// with K % 4 == 0, so k..k+3 of a column is one vec4 load.
@group(0) @binding(2) var<storage, read> b: array<vec4<T>>;

struct BCursor { idx: u32, k: u32, ok: bool }

fn b_cursor(batch: u32, n: u32, k: u32) -> BCursor {
  return BCursor((batch * p.strideB + n * p.K + k) / 4u, k, n < p.N);
}

fn b_next(c: ptr<function, BCursor>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if ((*c).ok && (*c).k < p.K) { v = vec4<f32>(b[(*c).idx]); }
  (*c).idx += TK / 4u;
  (*c).k += TK;
  return v;
}
