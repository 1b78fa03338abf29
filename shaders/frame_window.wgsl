// FreeNoise frame windows over activations laid out [B*F, Q] (row b*F + f, Q = h·w·C values per frame):
//   gather:     win[(b*L + j)*Q + q] = x[(b*F + start + j)*Q + q]                         j < L
//   accumulate: acc[(b*F + start + j)*Q + q] = c[j]·win[(b*L + j)*Q + q] (+ acc[...] if start + j < written)
//               for first ≤ j < L: frames below `written` already hold earlier windows' sums, the rest are new.
// Bindings: 0 params, 1 source, 2 destination. Linear index folded over a 2D grid (Engine.grid).
struct Params {
  Q: u32, F: u32, L: u32, start: u32,
  first: u32, written: u32, n: u32, pad: u32,
  // Blend coefficients c[j] = weight / normaliser (j < L ≤ 64), packed four to a vec4 (uniform array stride 16).
  coef: array<vec4<f32>, 16>,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> dst: array<T>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let q = i % p.Q;
  let r = i / p.Q;
  let j = r % p.L;
  let b = r / p.L;
  dst[i] = src[(b * p.F + p.start + j) * p.Q + q];
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  // i runs over (b, j - first, q): only the accumulated frames.
  let q = i % p.Q;
  let r = i / p.Q;
  let span = p.L - p.first;
  let j = p.first + r % span;
  let b = r / span;
  let f = p.start + j;
  let o = (b * p.F + f) * p.Q + q;
  var v = p.coef[j / 4u][j % 4u] * f32(src[(b * p.L + j) * p.Q + q]);
  if (f < p.written) { v += f32(dst[o]); }
  dst[o] = T(v);
}
