// Tiled GEMM core, shared by matmul, linear and conv2d (implicit GEMM):
//   out[b, m, colOffset + n] = act(sum_k A(b, m, k) * B(b, n, k) + bias[colOffset + n]
//                                  + row_bias[(m / rowsPerEntry) % entries, colOffset + n]) + residual[same index]
// for m < M, n < N (N = the columns this dispatch computes: a weight part's rows), k < K.
//
// This file is never compiled alone: src/ops/matmul.ts appends one A loader (matmul_a*.wgsl: dense
// [B, M, K]; conv2d*.wgsl: im2col gather from an NHWC image) and one B loader (matmul_b*.wgsl), each
// declaring its binding (1 = A, 2 = B) and providing
//   a_row(batch, m) -> ARow,  load_a4(ARow, k) -> vec4<f32>   (A at k..k+3 of row m, zero outside)
//   b_col(batch, n) -> BCol,  load_b4(BCol, k) -> vec4<f32>   (B at k..k+3 of column n, zero outside)
// The row/column context is computed once per thread (its load row is fixed for the whole K loop),
// so the conv gather decomposes m -> (image, oy, ox) once, not per element.
//
// Blocking: a 16x16 workgroup computes a 64x64 output block, each thread a 4x4 register tile
// (rows 4*ly.., columns 4*lx..). Per K step of 16, each of the 256 threads loads one vec4 of A
// (row li/4, k 4*(li%4)..) and one of B, and scatters them transposed into workgroup memory so
// that the inner loop reads one vec4 of A (4 rows) and one vec4 of B (4 columns) per k and does
// 16 FMAs. Workgroup memory: 2 x 16 x 16 vec4<f32> = 8 KiB. Accumulation is f32 whatever T is.
struct Params {
  M: u32, N: u32, K: u32, ldc: u32,
  strideA: u32, strideB: u32, strideC: u32, colOffset: u32,
  rowsPerEntry: u32, entries: u32, tableStride: u32, pad: i32,
  // conv2d only (implicit GEMM): input [*, H, W, Cin], kernel width KW, output Ho x Wo.
  H: u32, W: u32, Cin: u32, KW: u32,
  Ho: u32, Wo: u32, stride: u32, ldb: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> bias: array<T>;
@group(0) @binding(4) var<storage, read> row_bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read_write> out: array<T>;

override ACT: u32 = 0u;
override HAS_BIAS: bool = false;
override HAS_ROW_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;

const TK: u32 = 16u;
// As[k * 16 + q] = A rows 4q..4q+3 of the block at k; Bs[k * 16 + q] = B columns 4q..4q+3 at k.
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wid: vec3<u32>) {
  let batch = wid.z;
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  // This thread's load slot: row/column lr of the block, k offset lk within the K step.
  let lr = li / 4u;
  let lk = (li % 4u) * 4u;
  let q = lr / 4u;
  let c = lr % 4u;
  let arow = a_row(batch, m0 + lr);
  let bcol = b_col(batch, n0 + lr);

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    let a = load_a4(arow, k0 + lk);
    let b = load_b4(bcol, k0 + lk);
    As[(lk + 0u) * 16u + q][c] = a.x;
    As[(lk + 1u) * 16u + q][c] = a.y;
    As[(lk + 2u) * 16u + q][c] = a.z;
    As[(lk + 3u) * 16u + q][c] = a.w;
    Bs[(lk + 0u) * 16u + q][c] = b.x;
    Bs[(lk + 1u) * 16u + q][c] = b.y;
    Bs[(lk + 2u) * 16u + q][c] = b.z;
    Bs[(lk + 3u) * 16u + q][c] = b.w;
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let av = As[k * 16u + lid.y];
      let bv = Bs[k * 16u + lid.x];
      acc0 = fma(vec4<f32>(av.x), bv, acc0);
      acc1 = fma(vec4<f32>(av.y), bv, acc1);
      acc2 = fma(vec4<f32>(av.z), bv, acc2);
      acc3 = fma(vec4<f32>(av.w), bv, acc3);
    }
    workgroupBarrier();
  }

  let r0 = m0 + lid.y * 4u;
  let c0 = n0 + lid.x * 4u;
  store_row(batch, r0 + 0u, c0, acc0);
  store_row(batch, r0 + 1u, c0, acc1);
  store_row(batch, r0 + 2u, c0, acc2);
  store_row(batch, r0 + 3u, c0, acc3);
}

// Epilogue for 4 consecutive columns of one output row: bias, per-row-group bias, activation, residual.
fn store_row(batch: u32, r: u32, c0: u32, acc: vec4<f32>) {
  if (r >= p.M) { return; }
  let obase = batch * p.strideC + r * p.ldc + p.colOffset;
  var tbase = 0u;
  if (HAS_ROW_BIAS) { tbase = ((r / p.rowsPerEntry) % p.entries) * p.tableStride + p.colOffset; }
  for (var j = 0u; j < 4u; j++) {
    let col = c0 + j;
    if (col >= p.N) { return; }
    var v = acc[j];
    if (HAS_BIAS) { v += f32(bias[p.colOffset + col]); }
    if (HAS_ROW_BIAS) { v += f32(row_bias[tbase + col]); }
    v = activate(v, ACT);
    if (HAS_RESIDUAL) { v += f32(residual[obase + col]); }
    out[obase + col] = T(v);
  }
}
