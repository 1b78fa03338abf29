// Plain linear layer, the benchmark's baseline: one thread per output, no tiling, no shared memory.
//   out[m, n] = act(sum_k x[m, k] * w[n, k] + bias[n]),  x [M, K], w [N, K] (PyTorch (out, in)), out [M, N].
// Linear index over M*N folded into a 2D grid (Engine.grid).
struct Params { M: u32, N: u32, K: u32, hasBias: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> w: array<T>;
@group(0) @binding(3) var<storage, read> bias: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

override ACT: u32 = 0u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.M * p.N) { return; }
  let m = i / p.N;
  let n = i % p.N;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    acc += f32(x[m * p.K + k]) * f32(w[n * p.K + k]);
  }
  if (p.hasBias != 0u) { acc += f32(bias[n]); }
  out[i] = T(activate(acc, ACT));
}
