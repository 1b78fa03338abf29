// Nearest-neighbour 2x upsampling of NHWC x [N, H, W, C] -> out [N, 2H, 2W, C]:
//   out[n, oy, ox, c] = x[n, oy / 2, ox / 2, c]   (torch F.interpolate(scale_factor=2, mode="nearest")).
// Bindings 0 params, 1 x, 2 out. One thread per output value, 2D-folded grid (Engine.grid).
struct Params { n: u32, H: u32, W: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let c = i % p.C;
  let pix = i / p.C;              // (n * 2H + oy) * 2W + ox
  let ox = pix % (2u * p.W);
  let rowIdx = pix / (2u * p.W);  // n * 2H + oy
  let oy = rowIdx % (2u * p.H);
  let n = rowIdx / (2u * p.H);
  out[i] = x[((n * p.H + oy / 2u) * p.W + ox / 2u) * p.C + c];
}
