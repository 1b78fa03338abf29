// GroupNorm over NHWC activations, as torch.nn.GroupNorm (biased variance, f32 statistics), with an optional
// fused activation. Prepended with shaders/activations.wgsl (for `activate`).
//
// x is viewed as rows of C channels: [B * rows, C], where one "statistics domain" b holds `rows` = F * S rows
// (F = framesPerGroup consecutive samples n = b*F .. b*F+F-1, S = spatial positions per sample). Group g is the
// channel range [g*cg, (g+1)*cg). For each (b, g):  mean, var over rows × cg values,
//   y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c],  out = activate(y, ACT).
//
// Three entry points, dispatched in order (src/ops/groupnorm.ts):
//   stats     grid (chunks, B*G): each workgroup reduces rows [k*rowsPerChunk, ...) of one (b, g) to a partial
//             (count, mean, M2) with per-thread Welford and a Chan-merge tree — no E[x²]−E[x]² cancellation.
//             With a single chunk (DIRECT) it writes (mean, rstd) itself and finalize is skipped.
//   finalize  grid (B*G): merges the partials of one (b, g) (Chan) into (mean, 1/sqrt(var + eps)).
//             Row tiles (src/ops/groupnorm.ts groupNormRowTiles): x is one row tile of each sample; the tile's
//             stats dispatch writes partials chunkBase.. of `chunks` (all tiles' partials), so finalize merges
//             the statistics of the whole image before any tile is normalised.
//   normalize elementwise over all values (2D-folded grid, see Engine.grid); `normalize4_main` does 4 channels
//             per thread with vec4 loads/stores when C % 4 == 0 (p.n is then the vec4 count).
// `plain_main` is the straightforward one-dispatch version (one workgroup per (b, g), exact two-pass mean then
// centred variance, then normalise); kept as the benchmark baseline and tested like the fast path.
struct Params {
  rows: u32,         // rows per statistics domain (F * S)
  C: u32,            // channels
  groups: u32,       // G
  cg: u32,           // channels per group, C / G
  chunks: u32,       // partials per (b, g)
  rowsPerChunk: u32,
  n: u32,            // normalize threads: values, or vec4s for normalize4
  eps: f32,
  chunkBase: u32,    // stats: index of this dispatch's first partial per (b, g) (row tiles of one image, below)
}
// Each entry point binds a contiguous prefix 0..k (DispatchSpec.bindings[i] = binding i); variables of different
// entry points share binding numbers, which WGSL allows (the rule is per entry point's resource interface).
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;                      // stats, normalize
// partials[(bg * chunks + k) * 3 + {0: count, 1: mean, 2: M2}]
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;       // stats (write)
@group(0) @binding(1) var<storage, read> partials_in: array<f32>;          // finalize (read)
// stats[bg * 2 + {0: mean, 1: rstd}]
@group(0) @binding(2) var<storage, read_write> stats_out: array<f32>;      // finalize (write)
@group(0) @binding(2) var<storage, read> stats: array<f32>;                // normalize (read)
@group(0) @binding(3) var<storage, read> gamma: array<T>;
@group(0) @binding(4) var<storage, read> beta: array<T>;
@group(0) @binding(5) var<storage, read_write> out: array<T>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<T>>;               // normalize4 (C % 4 == 0)
@group(0) @binding(3) var<storage, read> gamma4: array<vec4<T>>;
@group(0) @binding(4) var<storage, read> beta4: array<vec4<T>>;
@group(0) @binding(5) var<storage, read_write> out4: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> plain_gamma: array<T>;            // plain
@group(0) @binding(3) var<storage, read> plain_beta: array<T>;             // plain
@group(0) @binding(4) var<storage, read_write> plain_out: array<T>;        // plain

override ACT: u32 = 0u;
// stats_main with one chunk per (b, g): write (mean, rstd) in the `stats` layout directly and skip finalize.
override DIRECT: bool = false;
const WG: u32 = 256u;

var<workgroup> sh_n: array<f32, WG>;
var<workgroup> sh_mean: array<f32, WG>;
var<workgroup> sh_m2: array<f32, WG>;

// Chan et al. pairwise merge of (count, mean, M2) summaries.
fn merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
  let n = a.x + b.x;
  if (n == 0.0) { return vec3<f32>(0.0); }
  let d = b.y - a.y;
  let fb = b.x / n;
  return vec3<f32>(n, a.y + d * fb, a.z + b.z + d * d * a.x * fb);
}

// Tree-reduce the workgroup's summaries into sh_*[0].
fn reduce_workgroup(t: u32, s: vec3<f32>) -> vec3<f32> {
  sh_n[t] = s.x; sh_mean[t] = s.y; sh_m2[t] = s.z;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (t < half) {
      let m = merge(vec3<f32>(sh_n[t], sh_mean[t], sh_m2[t]), vec3<f32>(sh_n[t + half], sh_mean[t + half], sh_m2[t + half]));
      sh_n[t] = m.x; sh_mean[t] = m.y; sh_m2[t] = m.z;
    }
    workgroupBarrier();
  }
  return vec3<f32>(sh_n[0], sh_mean[0], sh_m2[0]);
}

@compute @workgroup_size(WG)
fn stats_main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = wid.x;
  let bg = wid.y;
  let b = bg / p.groups;
  let g = bg % p.groups;
  // Threads tile (row, channel): `lanes` consecutive threads read one row's cg contiguous channels.
  let lanes = min(p.cg, WG);
  let rowsPerIter = WG / lanes;
  let lane = t % lanes;
  let r0 = t / lanes;
  let rowStart = k * p.rowsPerChunk;
  let rowEnd = min(p.rows, rowStart + p.rowsPerChunk);
  var cnt = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  if (r0 < rowsPerIter) {
    for (var r = rowStart + r0; r < rowEnd; r += rowsPerIter) {
      let base = (b * p.rows + r) * p.C + g * p.cg;
      for (var c = lane; c < p.cg; c += lanes) {
        let v = f32(x[base + c]);
        cnt += 1.0;
        let d = v - mean;
        mean += d / cnt;
        m2 += d * (v - mean);
      }
    }
  }
  let s = reduce_workgroup(t, vec3<f32>(cnt, mean, m2));
  if (t == 0u && DIRECT) {
    partials[bg * 2u] = s.y;
    partials[bg * 2u + 1u] = 1.0 / sqrt(max(s.z / s.x, 0.0) + p.eps);
  } else if (t == 0u) {
    let o = (bg * p.chunks + p.chunkBase + k) * 3u;
    partials[o] = s.x;
    partials[o + 1u] = s.y;
    partials[o + 2u] = s.z;
  }
}

@compute @workgroup_size(WG)
fn finalize_main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let bg = wid.x;
  var s = vec3<f32>(0.0);
  for (var k = t; k < p.chunks; k += WG) {
    let o = (bg * p.chunks + k) * 3u;
    s = merge(s, vec3<f32>(partials_in[o], partials_in[o + 1u], partials_in[o + 2u]));
  }
  let r = reduce_workgroup(t, s);
  if (t == 0u) {
    let variance = max(r.z / r.x, 0.0); // biased, as PyTorch
    stats_out[bg * 2u] = r.y;
    stats_out[bg * 2u + 1u] = 1.0 / sqrt(variance + p.eps);
  }
}

@compute @workgroup_size(WG)
fn normalize_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let c = i % p.C;
  let b = (i / p.C) / p.rows;
  let s = (b * p.groups + c / p.cg) * 2u;
  let y = (f32(x[i]) - stats[s]) * stats[s + 1u] * f32(gamma[c]) + f32(beta[c]);
  out[i] = T(activate(y, ACT));
}

@compute @workgroup_size(WG)
fn normalize4_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let c4 = i % (p.C / 4u);
  let c = c4 * 4u;
  let sb = ((i * 4u) / p.C) / p.rows * p.groups;
  // the 4 channels may straddle a group boundary (e.g. 10 channels per group): one (mean, rstd) each
  let s = (vec4<u32>(sb) + (vec4<u32>(c) + vec4<u32>(0u, 1u, 2u, 3u)) / p.cg) * 2u;
  let mean = vec4<f32>(stats[s.x], stats[s.y], stats[s.z], stats[s.w]);
  let rstd = vec4<f32>(stats[s.x + 1u], stats[s.y + 1u], stats[s.z + 1u], stats[s.w + 1u]);
  let y = (vec4<f32>(x4[i]) - mean) * rstd * vec4<f32>(gamma4[c4]) + vec4<f32>(beta4[c4]);
  out4[i] = vec4<T>(T(activate(y.x, ACT)), T(activate(y.y, ACT)), T(activate(y.z, ACT)), T(activate(y.w, ACT)));
}

var<workgroup> sh_sum: array<f32, WG>;

fn sum_workgroup(t: u32, v: f32) -> f32 {
  workgroupBarrier(); // sh_sum may still be read from the previous call
  sh_sum[t] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (t < half) { sh_sum[t] += sh_sum[t + half]; }
    workgroupBarrier();
  }
  return sh_sum[0];
}

@compute @workgroup_size(WG)
fn plain_main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let bg = wid.x;
  let b = bg / p.groups;
  let g = bg % p.groups;
  let count = p.rows * p.cg;
  let base = b * p.rows * p.C + g * p.cg;
  var acc = 0.0;
  for (var j = t; j < count; j += WG) { acc += f32(x[base + (j / p.cg) * p.C + j % p.cg]); }
  let mean = sum_workgroup(t, acc) / f32(count);
  acc = 0.0;
  for (var j = t; j < count; j += WG) {
    let d = f32(x[base + (j / p.cg) * p.C + j % p.cg]) - mean;
    acc += d * d;
  }
  let rstd = 1.0 / sqrt(sum_workgroup(t, acc) / f32(count) + p.eps);
  for (var j = t; j < count; j += WG) {
    let c = g * p.cg + j % p.cg;
    let i = base + (j / p.cg) * p.C + j % p.cg;
    plain_out[i] = T(activate((f32(x[i]) - mean) * rstd * f32(plain_gamma[c]) + f32(plain_beta[c]), ACT));
  }
}
