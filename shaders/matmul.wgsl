// Tiled GEMM core, shared by matmul, linear and conv2d (implicit GEMM):
//   out[b, m, colOffset + n] = scale * act(sum_k A(b, m, k) * B(b, n, k) + bias[colOffset + n]
//                                          + row_bias[(m / rowsPerEntry) % entries, colOffset + n]) + residual[same index]
// for m < M, n < N (N = the columns this dispatch computes: a weight part's rows), k < K.
//
// This file is never compiled alone: src/ops/matmul.ts appends one A loader (matmul_a*.wgsl: dense
// [B, M, K]; conv2d*.wgsl: im2col gather from an NHWC image) and one B loader (matmul_b*.wgsl), each
// declaring its binding (1 = A, 2 = B) and providing a cursor over one row of A / column of B:
//   a_cursor(batch, m, k) -> ACursor,  a_next(&cursor) -> vec4<f32>   (A[m, k..k+3], zero outside; then k += TK)
//   b_cursor(batch, n, k) -> BCursor,  b_next(&cursor) -> vec4<f32>   (B[k..k+3, n], zero outside; then k += TK)
// Each thread's load rows are fixed for the whole K loop, so the cursors advance incrementally:
// the conv gather steps its (ky, kx, ci) position instead of dividing k by Cin and KW per load
// (integer division is slow on SIMD CPUs and costs more than the FMAs it feeds).
//
// Blocking: a 16x16 workgroup computes a 64x64 output block, each thread a 4x4 register tile
// (rows 4*ly.., columns 4*lx..). Per K step of 32, each of the 256 threads loads two vec4s of A
// (row li/4, k-quads li%4 and li%4 + 4) and two of B into workgroup memory, kept k-contiguous
// (As[row * 8 + kq] = A[row, k0 + 4kq .. +3]), so loads store whole vec4s and the inner loop reads
// 4 vec4s of A and 4 of B per 4 k and does 16 dot products (64 FMAs). K step 32 rather than 16
// halves the barriers, which is what costs most on CPU (lavapipe) adapters: measured ~1.3x there.
// Workgroup memory: 2 x 64 x 8 vec4<f32> = 16 KiB. Accumulation is f32 whatever T is.
struct Params {
  M: u32, N: u32, K: u32, ldc: u32,
  strideA: u32, strideB: u32, strideC: u32, colOffset: u32,
  rowsPerEntry: u32, entries: u32, tableStride: u32, pad: i32,
  // conv2d only (implicit GEMM): input [*, H, W, Cin], kernel width KW, output Ho x Wo.
  H: u32, W: u32, Cin: u32, KW: u32,
  Ho: u32, Wo: u32, stride: u32, ldb: u32,
  // Epilogue inputs present: bit 0 bias, bit 1 row_bias, bit 2 residual (uniform flags rather than
  // override constants, so each loader pairing compiles once per activation, not 8 times).
  flags: u32,
  // Factor on the activated value before the residual (1 = none; the motion-strength fold of proj_out).
  scale: f32,
  // conv2d only: vertical zero padding (`pad` is the horizontal one); 0 for a row tile whose halo rows are given.
  padY: i32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> bias: array<T>;
@group(0) @binding(4) var<storage, read> row_bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read_write> out: array<T>;

override ACT: u32 = 0u;

const TK: u32 = 32u;
const KQ: u32 = 8u;
// As[row * KQ + kq] = A[row, k0 + 4kq .. +3] (k-contiguous vec4s); Bs[col * KQ + kq] likewise for B.
var<workgroup> As: array<vec4<f32>, 512>;
var<workgroup> Bs: array<vec4<f32>, 512>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wid: vec3<u32>) {
  let batch = wid.z;
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  // This thread's load slots: row/column lr of the block, k-quads lq and lq + 4 of the K step.
  let lr = li / 4u;
  let lq = li % 4u;
  var a_lo = a_cursor(batch, m0 + lr, lq * 4u);
  var a_hi = a_cursor(batch, m0 + lr, lq * 4u + 16u);
  var b_lo = b_cursor(batch, n0 + lr, lq * 4u);
  var b_hi = b_cursor(batch, n0 + lr, lq * 4u + 16u);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  // First of this thread's 4 A rows and 4 B columns in workgroup memory.
  let ar = lid.y * 4u * KQ;
  let bc = lid.x * 4u * KQ;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    As[lr * KQ + lq] = a_next(&a_lo);
    As[lr * KQ + lq + 4u] = a_next(&a_hi);
    Bs[lr * KQ + lq] = b_next(&b_lo);
    Bs[lr * KQ + lq + 4u] = b_next(&b_hi);
    workgroupBarrier();
    for (var kq = 0u; kq < KQ; kq++) {
      let a0 = As[ar + kq];
      let a1 = As[ar + KQ + kq];
      let a2 = As[ar + 2u * KQ + kq];
      let a3 = As[ar + 3u * KQ + kq];
      let b0 = Bs[bc + kq];
      let b1 = Bs[bc + KQ + kq];
      let b2 = Bs[bc + 2u * KQ + kq];
      let b3 = Bs[bc + 3u * KQ + kq];
      acc0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
      acc1 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
      acc2 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
      acc3 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
    }
    workgroupBarrier();
  }
  // Epilogue over this thread's 4x4 outputs: out = scale * act(acc + bias + row_bias) + residual.
  // Written once as a loop (not per row) so the activation is compiled once.
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let r0 = m0 + lid.y * 4u;
  let c0 = n0 + lid.x * 4u;
  let has_bias = (p.flags & 1u) != 0u;
  let has_row_bias = (p.flags & 2u) != 0u;
  let has_residual = (p.flags & 4u) != 0u;
  // Runtime trip count (the rows of this thread's tile inside M): keeps compilers from unrolling
  // 16 copies of the epilogue, which made CPU adapters (lavapipe) spend seconds compiling.
  let n_out = 4u * min(4u, p.M - min(r0, p.M));
  for (var t = 0u; t < n_out; t++) {
    let r = r0 + t / 4u;
    let col = c0 + t % 4u;
    if (col >= p.N) { continue; }
    let o = batch * p.strideC + r * p.ldc + p.colOffset + col;
    var v = accs[t / 4u][t % 4u];
    if (has_bias) { v += f32(bias[p.colOffset + col]); }
    if (has_row_bias) { v += f32(row_bias[((r / p.rowsPerEntry) % p.entries) * p.tableStride + p.colOffset + col]); }
    v = activate(v, ACT) * p.scale;
    if (has_residual) { v += f32(residual[o]); }
    out[o] = T(v);
  }
}
