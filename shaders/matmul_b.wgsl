// B loader for the GEMM core (matmul.wgsl), scalar loads (any shape). TRANS_B: B is [batch, N, K]
// (PyTorch linear / prepared conv weight: column n is contiguous in k); otherwise [batch, K, N] with
// row stride ldb.
@group(0) @binding(2) var<storage, read> b: array<T>;

override TRANS_B: bool = true;

struct BCol { base: u32, step: u32, ok: bool }

fn b_col(batch: u32, n: u32) -> BCol {
  if (TRANS_B) { return BCol(batch * p.strideB + n * p.K, 1u, n < p.N); }
  return BCol(batch * p.strideB + n, p.ldb, n < p.N);
}

fn load_b4(col: BCol, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (!col.ok) { return v; }
  for (var i = 0u; i < 4u; i++) {
    if (k + i < p.K) { v[i] = f32(b[col.base + (k + i) * col.step]); }
  }
  return v;
}
