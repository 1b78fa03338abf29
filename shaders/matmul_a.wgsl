// A loader for the GEMM core (matmul.wgsl): dense row-major A [batch, M, K], scalar loads (any K).
@group(0) @binding(1) var<storage, read> a: array<T>;

struct ACursor { idx: u32, k: u32, ok: bool }

fn a_cursor(batch: u32, m: u32, k: u32) -> ACursor {
  return ACursor(batch * p.strideA + m * p.K + k, k, m < p.M);
}

fn a_next(c: ptr<function, ACursor>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if ((*c).ok) {
    for (var i = 0u; i < 4u; i++) {
      if ((*c).k + i < p.K) { v[i] = f32(a[(*c).idx + i]); }
    }
  }
  (*c).idx += TK;
  (*c).k += TK;
  return v;
}
