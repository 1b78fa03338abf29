// Elementwise maps over same-shape tensors, all math in f32. Prepended with shaders/activations.wgsl.
// Linear index folded over a 2D grid (Engine.grid): i = gid.x + gid.y * nwg.x * WG.
//   unary_main:  out = activate(s * x, ACT)          (activation, scale)      bindings 0 params, 1 x, 2 out
//   axpby_main:  out = a * x + b * y                  (CFG / scheduler math)   bindings 0 params, 1 x, 2 y, 3 out
struct Params { n: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out1: array<T>;  // unary
@group(0) @binding(2) var<storage, read> y: array<T>;           // axpby
@group(0) @binding(3) var<storage, read_write> out2: array<T>;  // axpby

override ACT: u32 = 0u;
const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn unary_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  out1[i] = T(activate(p.a * f32(x[i]), ACT));
}

@compute @workgroup_size(WG)
fn axpby_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  out2[i] = T(p.a * f32(x[i]) + p.b * f32(y[i]));
}
