// Channel concatenation of channels-last tensors: a [R, Ca], b [R, Cb] -> out [R, Ca + Cb], a first
// (torch.cat([a, b], dim=1) in NCHW: the UNet's skip connections). R = all leading dims.
// Bindings 0 params, 1 a, 2 b, 3 out. One thread per output value, 2D-folded grid (Engine.grid).
struct Params { n: u32, Ca: u32, Cb: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let Ct = p.Ca + p.Cb;
  let r = i / Ct;
  let c = i - r * Ct;
  if (c < p.Ca) {
    out[i] = a[r * p.Ca + c];
  } else {
    out[i] = b[r * p.Cb + (c - p.Ca)];
  }
}
