// diffusers GEGLU epilogue: x [rows, 2D] is the projection output; value = x[:, :D], gate = x[:, D:],
//   out[r, d] = value[r, d] * gelu(gate[r, d])   (exact erf GELU). Prepended with shaders/activations.wgsl.
// Bindings 0 params, 1 x, 2 out [rows, D]. Linear output index over a 2D-folded grid (Engine.grid).
struct Params { n: u32, D: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let r = i / p.D;
  let d = i - r * p.D;
  let base = r * 2u * p.D;
  out[i] = T(f32(x[base + d]) * gelu_erf(f32(x[base + p.D + d])));
}
