// A loader for the GEMM core (matmul.wgsl): dense row-major A [batch, M, K], scalar loads (any K).
@group(0) @binding(1) var<storage, read> a: array<T>;

struct ARow { base: u32, ok: bool }

fn a_row(batch: u32, m: u32) -> ARow {
  return ARow(batch * p.strideA + m * p.K, m < p.M);
}

fn load_a4(r: ARow, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (!r.ok) { return v; }
  for (var i = 0u; i < 4u; i++) {
    if (k + i < p.K) { v[i] = f32(a[r.base + k + i]); }
  }
  return v;
}
