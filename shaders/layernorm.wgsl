// LayerNorm over the last dim, as torch.nn.LayerNorm (biased variance, f32 statistics):
//   x viewed as [rows, C];  y[r, c] = (x[r, c] - mean_r) / sqrt(var_r + eps) * gamma[c] + beta[c].
// One workgroup per row (row = wid.x + wid.y * nwg.x, a 2D-folded grid). Exact two-pass statistics (mean, then the
// centred sum of squares), so large means do not cancel; the row is re-read from global memory (cache-resident).
struct Params { rows: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> gamma: array<T>;
@group(0) @binding(3) var<storage, read> beta: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

const WG: u32 = 64u;
var<workgroup> sh: array<f32, WG>;

fn sum_workgroup(t: u32, v: f32) -> f32 {
  workgroupBarrier(); // sh may still be read from the previous call
  sh[t] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (t < half) { sh[t] += sh[t + half]; }
    workgroupBarrier();
  }
  return sh[0];
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; } // uniform per workgroup: barriers below stay in uniform control flow
  let base = row * p.C;
  var acc = 0.0;
  for (var c = t; c < p.C; c += WG) { acc += f32(x[base + c]); }
  let mean = sum_workgroup(t, acc) / f32(p.C);
  acc = 0.0;
  for (var c = t; c < p.C; c += WG) {
    let d = f32(x[base + c]) - mean;
    acc += d * d;
  }
  let rstd = 1.0 / sqrt(sum_workgroup(t, acc) / f32(p.C) + p.eps);
  for (var c = t; c < p.C; c += WG) {
    out[base + c] = T((f32(x[base + c]) - mean) * rstd * f32(gamma[c]) + f32(beta[c]));
  }
}
