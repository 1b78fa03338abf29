// Nearest-neighbour upsampling of NHWC x [N, H, W, C] -> out [N, Ho, Wo, C], as torch F.interpolate(mode="nearest"):
//   out[n, oy, ox, c] = x[n, src(oy, H, Ho), src(ox, W, Wo), c]
//   src(o, in, out) = o / 2 when out = 2·in (scale_factor=2, the usual case), else min(floor(o · s), in − 1)
//   with s = in / out rounded to f32 (PyTorch's nearest_idx; diffusers' Upsample2D with output_size, used when a
//   latent side is not divisible by the UNet's total downsampling).
// Bindings 0 params, 1 x, 2 out. One thread per output value, 2D-folded grid (Engine.grid).
struct Params { n: u32, H: u32, W: u32, C: u32, Ho: u32, Wo: u32, sy: f32, sx: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

const WG: u32 = 256u;

fn src(o: u32, size_in: u32, size_out: u32, s: f32) -> u32 {
  if (size_out == 2u * size_in) { return o / 2u; }
  return min(u32(floor(f32(o) * s)), size_in - 1u);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let c = i % p.C;
  let pix = i / p.C;              // (n * Ho + oy) * Wo + ox
  let ox = pix % p.Wo;
  let rowIdx = pix / p.Wo;        // n * Ho + oy
  let oy = rowIdx % p.Ho;
  let n = rowIdx / p.Ho;
  out[i] = x[((n * p.H + src(oy, p.H, p.Ho, p.sy)) * p.W + src(ox, p.W, p.Wo, p.sx)) * p.C + c];
}
