// Tiled multi-head attention with an online softmax (flash attention): out = softmax(q·kᵀ·scale)·v.
// No Nq×Nk score matrix exists anywhere: each workgroup keeps a BQ×BK score tile in workgroup memory.
//
// Layout (token-major, heads side by side in the channels): element d of head h of token i of batch b
// of input X lives at X[(b*N + i) * strideX + offX + h*D + d]; strides/offsets let q, k, v be column
// slices of one fused [B, N, 3C] projection. out is dense [B, Nq, H*D].
//
// Workgroup (qt, h, b) owns query rows qt*BQ .. +BQ of head h. Thread (r, t), r < BQ, t < TD, owns
// output dims d = t + c*TD (c < DPT = ceil(D/TD) ≤ MAX_DPT) of query row r, in registers.
// Per key tile of BK rows:  load K, V tile → scores S = Q·Kᵀ (BQ×BK, spread over all threads) →
// every thread rescales its row's running (m, l, o) with m' = max(m, max_j S), corr = exp(m - m'):
//   l = l*corr + Σ_j exp(S_j - m'),   o = o*corr + Σ_j exp(S_j - m')·V_j
// (the row max is recomputed by each of the row's TD threads; the exponentials are shared out among them).
// Finally out = o / l. All of it in f32; Q is pre-multiplied by scale when staged.
// Bindings: 0 params, 1 q, 2 k, 3 v, 4 out.
struct Params {
  nq: u32, nk: u32, heads: u32, scale: f32,
  q_stride: u32, q_off: u32, k_stride: u32, k_off: u32,
  v_stride: u32, v_off: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<T>;
@group(0) @binding(2) var<storage, read> k: array<T>;
@group(0) @binding(3) var<storage, read> v: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

override D: u32 = 40u;    // head dim
override BQ: u32 = 32u;   // query rows per workgroup
override BK: u32 = 16u;   // key rows per tile
override TD: u32 = 8u;    // threads per query row (each owns DPT output dims)
const MAX_DPT: u32 = 8u;
override DPT: u32 = (D + TD - 1u) / TD;
override NT: u32 = BQ * TD;

var<workgroup> qs: array<f32, BQ * D>;
var<workgroup> ks: array<f32, BK * D>;
var<workgroup> vs: array<f32, BK * D>;
var<workgroup> ss: array<f32, BQ * BK>; // scores of the tile
var<workgroup> ps: array<f32, BQ * BK>; // their exponentials exp(s - m')

@compute @workgroup_size(NT)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let q0 = wid.x * BQ;
  let h = wid.y;
  let b = wid.z;
  let hd = h * D;

  // Stage the scaled query tile (rows past nq read as 0 and are never stored).
  for (var idx = lid; idx < BQ * D; idx += NT) {
    let r = idx / D;
    let d = idx - r * D;
    let i = q0 + r;
    var x = 0.0;
    if (i < p.nq) { x = f32(q[(b * p.nq + i) * p.q_stride + p.q_off + hd + d]) * p.scale; }
    qs[idx] = x;
  }

  let r = lid / TD;
  let t = lid - r * TD;
  var m = -3.0e38;
  var l = 0.0;
  var o: array<f32, MAX_DPT>;
  for (var c = 0u; c < MAX_DPT; c++) { o[c] = 0.0; }

  for (var j0 = 0u; j0 < p.nk; j0 += BK) {
    let nj = min(BK, p.nk - j0);
    for (var idx = lid; idx < BK * D; idx += NT) {
      let j = idx / D;
      let d = idx - j * D;
      var kx = 0.0;
      var vx = 0.0;
      if (j < nj) {
        let row = b * p.nk + j0 + j;
        kx = f32(k[row * p.k_stride + p.k_off + hd + d]);
        vx = f32(v[row * p.v_stride + p.v_off + hd + d]);
      }
      ks[idx] = kx;
      vs[idx] = vx;
    }
    workgroupBarrier();

    for (var idx = lid; idx < BQ * BK; idx += NT) {
      let rr = idx / BK;
      let j = idx - rr * BK;
      var s = 0.0;
      for (var d = 0u; d < D; d++) { s += qs[rr * D + d] * ks[j * D + d]; }
      ss[idx] = s;
    }
    workgroupBarrier();

    // New running max of row r (each of the row's TD threads reads the BK scores: compares only),
    // then the exponentials are spread over the row's threads instead of recomputed by each.
    var mt = m;
    for (var j = 0u; j < nj; j++) { mt = max(mt, ss[r * BK + j]); }
    for (var j = t; j < BK; j += TD) { ps[r * BK + j] = select(0.0, exp(ss[r * BK + j] - mt), j < nj); }
    workgroupBarrier();
    let corr = exp(m - mt);
    l *= corr;
    for (var c = 0u; c < DPT; c++) { o[c] *= corr; }
    for (var j = 0u; j < nj; j++) {
      let pj = ps[r * BK + j];
      l += pj;
      for (var c = 0u; c < DPT; c++) {
        let d = t + c * TD;
        if (d < D) { o[c] += pj * vs[j * D + d]; }
      }
    }
    m = mt;
    workgroupBarrier();
  }

  let i = q0 + r;
  if (i >= p.nq) { return; }
  let inv = 1.0 / l;
  let base = (b * p.nq + i) * (p.heads * D) + hd;
  for (var c = 0u; c < DPT; c++) {
    let d = t + c * TD;
    if (d < D) { out[base + d] = T(o[c] * inv); }
  }
}
