// A loader for the GEMM core (matmul.wgsl): dense row-major A [batch, M, K] with K % 4 == 0, so
// every row starts on a vec4 boundary and the 4 values at k..k+3 are one vec4 load.
@group(0) @binding(1) var<storage, read> a: array<vec4<T>>;

struct ARow { base: u32, ok: bool }

fn a_row(batch: u32, m: u32) -> ARow {
  return ARow((batch * p.strideA + m * p.K) / 4u, m < p.M);
}

fn load_a4(r: ARow, k: u32) -> vec4<f32> {
  if (!r.ok || k >= p.K) { return vec4<f32>(0.0); }
  return vec4<f32>(a[r.base + k / 4u]);
}
