// Plain direct 2D convolution, the benchmark's baseline: one thread per output, no tiling.
//   out[img, oy, ox, co] = act(bias[co] + sum_{ky,kx,ci} x[img, oy*s + ky - pad, ox*s + kx - pad, ci] * w[co, ky, kx, ci])
// x NHWC [Nimg, H, W, Cin], w (Cout, KH, KW, Cin), out NHWC [Nimg, Ho, Wo, Cout]; zero padding.
struct Params {
  total: u32, H: u32, W: u32, Cin: u32,
  Ho: u32, Wo: u32, Cout: u32, KH: u32,
  KW: u32, stride: u32, pad: i32, hasBias: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> w: array<T>;
@group(0) @binding(3) var<storage, read> bias: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

override ACT: u32 = 0u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.total) { return; }
  let co = i % p.Cout;
  let ox = (i / p.Cout) % p.Wo;
  let oy = (i / (p.Cout * p.Wo)) % p.Ho;
  let img = i / (p.Cout * p.Wo * p.Ho);
  var acc = 0.0;
  for (var ky = 0u; ky < p.KH; ky++) {
    let iy = i32(oy * p.stride + ky) - p.pad;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let ix = i32(ox * p.stride + kx) - p.pad;
      if (ix < 0 || ix >= i32(p.W)) { continue; }
      let xb = ((img * p.H + u32(iy)) * p.W + u32(ix)) * p.Cin;
      let wb = ((co * p.KH + ky) * p.KW + kx) * p.Cin;
      for (var ci = 0u; ci < p.Cin; ci++) {
        acc += f32(x[xb + ci]) * f32(w[wb + ci]);
      }
    }
  }
  if (p.hasBias != 0u) { acc += f32(bias[co]); }
  out[i] = T(activate(acc, ACT));
}
