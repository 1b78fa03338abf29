// A kernel the VAE decoder needs that no shared op provides: a row softmax for the single-head mid-block attention
// when its head dim (= channels, 512 in SD1.5) is over the flash-attention kernel's limit.
import type { Engine } from '../../gpu/engine';
import { kernel } from '../../gpu/kernel';
import { Params } from '../../gpu/params';
import { fmtShape, type Tensor } from '../../gpu/tensor';

const SOFTMAX = kernel('vae_softmax_rows', /* wgsl */ `
struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<T>;
var<workgroup> red: array<f32, 256>;
// In place: x[r, :] = softmax(x[r, :]); one workgroup per row, max and sum reduced in f32.
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  var m = -3.0e38;
  for (var i = lid.x; i < p.cols; i += 256u) { m = max(m, f32(x[base + i])); }
  red[lid.x] = m;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { red[lid.x] = max(red[lid.x], red[lid.x + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var i = lid.x; i < p.cols; i += 256u) { sum += exp(f32(x[base + i]) - m); }
  red[lid.x] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { red[lid.x] += red[lid.x + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var i = lid.x; i < p.cols; i += 256u) { x[base + i] = T(exp(f32(x[base + i]) - m) * inv); }
}
`);

/** In-place softmax over the last dim of x [..., cols]. */
export function softmaxRowsInPlace(e: Engine, x: Tensor): void {
  const cols = x.shape[x.shape.length - 1];
  const rows = x.size / cols;
  const max = e.limits.maxComputeWorkgroupsPerDimension;
  const gy = Math.ceil(rows / max);
  e.dispatch({
    kernel: SOFTMAX, dtype: x.dtype,
    bindings: [new Params().u32(rows).u32(cols).bytes(), x],
    workgroups: [Math.ceil(rows / gy), gy],
  });
}
