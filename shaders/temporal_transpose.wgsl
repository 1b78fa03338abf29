// Swap the two middle axes: in [N, A, Bd, W] → out [N, Bd, A, W] (W contiguous). Used by the plain
// temporal-attention path to materialise (b·f, p, ·) ↔ (b·p, f, ·) — the copy the fused kernel avoids.
// One thread per element, linear index folded over a 2D grid (Engine.grid). Bindings: 0 params, 1 in, 2 out.
struct Params { n: u32, a: u32, bd: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> dst: array<T>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.n * p.a * p.bd * p.w) { return; }
  // idx enumerates the output [n, bd, a, w].
  let w = idx % p.w;
  let a = (idx / p.w) % p.a;
  let bd = (idx / (p.w * p.a)) % p.bd;
  let n = idx / (p.w * p.a * p.bd);
  dst[idx] = src[((n * p.a + a) * p.bd + bd) * p.w + w];
}
