// LayerNorm over the last dim, as torch.nn.LayerNorm (biased variance, f32 statistics):
//   x viewed as [rows, C];  y[r, c] = (x[r, c] - mean_r) / sqrt(var_r + eps) * gamma[c] + beta[c].
// A workgroup of 64 threads handles 64/TPR rows, TPR threads per row (TPR, a power of two, is chosen from C
// by the op: narrow rows get few threads, so small-C models do not waste 64 threads on 16 values).
// Workgroup index = wid.x + wid.y * nwg.x (a 2D-folded grid). Exact two-pass statistics (mean, then the
// centred sum of squares), so large means do not cancel; the row is re-read from global memory (cache-resident).
struct Params { rows: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> gamma: array<T>;
@group(0) @binding(3) var<storage, read> beta: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

const WG: u32 = 64u;
override TPR: u32 = 64u;
var<workgroup> sh: array<f32, WG>;

// Sum of v over the TPR threads of this thread's row segment (every thread of the workgroup must call it).
fn sum_row(t: u32, v: f32) -> f32 {
  workgroupBarrier(); // sh may still be read from the previous call
  sh[t] = v;
  workgroupBarrier();
  let lane = t % TPR;
  for (var half = TPR / 2u; half > 0u; half = half / 2u) {
    if (lane < half) { sh[t] += sh[t + half]; }
    workgroupBarrier();
  }
  return sh[t - lane];
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + t / TPR;
  let lane = t % TPR;
  // Rows past the end still take part in the barriers (uniform control flow) but touch no memory.
  let valid = row < p.rows;
  let n = select(0u, p.C, valid);
  let base = row * p.C;
  var acc = 0.0;
  for (var c = lane; c < n; c += TPR) { acc += f32(x[base + c]); }
  let mean = sum_row(t, acc) / f32(p.C);
  acc = 0.0;
  for (var c = lane; c < n; c += TPR) {
    let d = f32(x[base + c]) - mean;
    acc += d * d;
  }
  let rstd = 1.0 / sqrt(sum_row(t, acc) / f32(p.C) + p.eps);
  for (var c = lane; c < n; c += TPR) {
    out[base + c] = T((f32(x[base + c]) - mean) * rstd * f32(gamma[c]) + f32(beta[c]));
  }
}
