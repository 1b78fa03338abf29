// General permutation of a dense row-major tensor of rank <= 6: out = x.permute(perm), made contiguous.
// For output index i with coordinates (o0 .. o{rank-1}) in the output shape d:
//   src = sum_k o_k * s_k,  where s_k = stride of input dim perm[k] (prepared on the CPU, src/ops/layout.ts).
// Unused leading dims are given size 1 / stride 0. Bindings 0 params, 1 x, 2 out; 2D-folded grid (Engine.grid).
struct Params {
  n: u32,
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,   // output shape, right-aligned to rank 6
  s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32,   // input strides of the permuted dims
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  var r = i;
  var src = 0u;
  src += (r % p.d5) * p.s5; r /= p.d5;
  src += (r % p.d4) * p.s4; r /= p.d4;
  src += (r % p.d3) * p.s3; r /= p.d3;
  src += (r % p.d2) * p.s2; r /= p.d2;
  src += (r % p.d1) * p.s1; r /= p.d1;
  src += r * p.s0;
  out[i] = x[src];
}
