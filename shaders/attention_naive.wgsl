// Plain multi-head attention, for benchmark ratios and as a second implementation in tests:
// three kernels that materialise the score matrix in f32.
//   scores:  S[g, i, j] = scale * Σ_d q[b,i,h,d] k[b,j,h,d]     (g = (b*H + h) - g0, one thread per score)
//   softmax: S[g, i, :] = softmax(S[g, i, :])                     (one thread per row)
//   pv:      out[b, i, h*D + d] = Σ_j S[g, i, j] v[b, j, h, d]    (one thread per output element)
// q/k/v indexing as in attention.wgsl (row stride + column offset per input). The (b, h) pairs are
// processed in groups g0 .. g0+G so the score buffer stays under the binding limit.
// Entry points use separate binding lists (each numbered from 0): scores (params, q, k, s),
// softmax (params, s), pv (params, s, v, out).
struct Params {
  nq: u32, nk: u32, heads: u32, d: u32,
  scale: f32, g0: u32, groups: u32, stride: u32,
  off: u32, k_stride: u32, k_off: u32, _pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> sq: array<T>;
@group(0) @binding(2) var<storage, read> sk: array<T>;
@group(0) @binding(3) var<storage, read_write> s_scores: array<f32>;

@group(0) @binding(1) var<storage, read_write> s_rows: array<f32>;

@group(0) @binding(1) var<storage, read> s_probs: array<f32>;
@group(0) @binding(2) var<storage, read> pv_v: array<T>;
@group(0) @binding(3) var<storage, read_write> pv_out: array<T>;

override WG: u32 = 64u;

// For `scores`, p.stride/p.off describe q and p.k_stride/p.k_off describe k.
@compute @workgroup_size(WG)
fn scores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.groups * p.nq * p.nk) { return; }
  let j = idx % p.nk;
  let i = (idx / p.nk) % p.nq;
  let g = idx / (p.nk * p.nq) + p.g0;
  let b = g / p.heads;
  let h = g % p.heads;
  let qb = (b * p.nq + i) * p.stride + p.off + h * p.d;
  let kb = (b * p.nk + j) * p.k_stride + p.k_off + h * p.d;
  var s = 0.0;
  for (var d = 0u; d < p.d; d++) { s += f32(sq[qb + d]) * f32(sk[kb + d]); }
  s_scores[idx] = s * p.scale;
}

@compute @workgroup_size(WG)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.groups * p.nq) { return; }
  let base = row * p.nk;
  var m = -3.0e38;
  for (var j = 0u; j < p.nk; j++) { m = max(m, s_rows[base + j]); }
  var l = 0.0;
  for (var j = 0u; j < p.nk; j++) {
    let e = exp(s_rows[base + j] - m);
    s_rows[base + j] = e;
    l += e;
  }
  let inv = 1.0 / l;
  for (var j = 0u; j < p.nk; j++) { s_rows[base + j] *= inv; }
}

// For `pv`, p.stride/p.off describe v.
@compute @workgroup_size(WG)
fn pv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.groups * p.nq * p.d) { return; }
  let d = idx % p.d;
  let i = (idx / p.d) % p.nq;
  let gl = idx / (p.d * p.nq);
  let g = gl + p.g0;
  let b = g / p.heads;
  let h = g % p.heads;
  let sb = (gl * p.nq + i) * p.nk;
  var acc = 0.0;
  for (var j = 0u; j < p.nk; j++) {
    acc += s_probs[sb + j] * f32(pv_v[(b * p.nk + j) * p.stride + p.off + h * p.d + d]);
  }
  pv_out[(b * p.nq + i) * (p.heads * p.d) + h * p.d + d] = T(acc);
}
