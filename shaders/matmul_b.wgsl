// B loader for the GEMM core (matmul.wgsl), scalar loads (any shape). TRANS_B: B is [batch, N, K]
// (PyTorch linear / prepared conv weight: column n is contiguous in k); otherwise [batch, K, N] with
// row stride ldb.
@group(0) @binding(2) var<storage, read> b: array<T>;

override TRANS_B: bool = true;

struct BCursor { idx: u32, step: u32, k: u32, ok: bool }

fn b_cursor(batch: u32, n: u32, k: u32) -> BCursor {
  if (TRANS_B) { return BCursor(batch * p.strideB + n * p.K + k, 1u, k, n < p.N); }
  return BCursor(batch * p.strideB + k * p.ldb + n, p.ldb, k, n < p.N);
}

fn b_next(c: ptr<function, BCursor>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if ((*c).ok) {
    for (var i = 0u; i < 4u; i++) {
      if ((*c).k + i < p.K) { v[i] = f32(b[(*c).idx + i * (*c).step]); }
    }
  }
  (*c).idx += TK * (*c).step;
  (*c).k += TK;
  return v;
}
