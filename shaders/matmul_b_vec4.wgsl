// B loader for the GEMM core (matmul.wgsl): B is [batch, N, K] (transposed: column n contiguous in k)
// with K % 4 == 0, so k..k+3 of a column is one vec4 load.
@group(0) @binding(2) var<storage, read> b: array<vec4<T>>;

struct BCol { base: u32, ok: bool }

fn b_col(batch: u32, n: u32) -> BCol {
  return BCol((batch * p.strideB + n * p.K) / 4u, n < p.N);
}

fn load_b4(col: BCol, k: u32) -> vec4<f32> {
  if (!col.ok || k >= p.K) { return vec4<f32>(0.0); }
  return vec4<f32>(b[col.base + k / 4u]);
}
