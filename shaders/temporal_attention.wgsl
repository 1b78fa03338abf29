// Fused temporal attention of the AnimateDiff motion module: for every sample b and spatial position p,
// an independent multi-head attention over the F frames, softmax(q·kᵀ·scale)·v.
//
// Layout: qkv [B*F, P, 3C] (frame-major NHWC tokens; row (b*F + f)*P + p holds [q | k | v]), out [B*F, P, C].
// The (b·f, p) → (b·p, f) transpose is folded into the loads and stores: frame f of position p is at
// row (b*F + f)*P + p, i.e. consecutive frames are P*3C elements apart. Nothing is materialised.
//
// Workgroup (pg, h, b) handles G = floor(64/F) positions p0 .. p0+G of head h. Thread (g, i) is query
// frame i of position p0+g. Head dims are processed in chunks of DT columns: the chunk of K (then V)
// for all G×F (position, frame) rows is loaded once into workgroup memory (coalesced along channels)
// and read by the F query threads of its position.
//   pass 1: s[j] = scale · Σ_d q[i,d]·k[j,d]   for all j < F, in registers (F ≤ 64: the whole row fits)
//   softmax in f32:  s[j] = exp(s[j] - max s),  l = Σ s[j]
//   pass 2: out[i,d] = Σ_j s[j]·v[j,d] / l       (each chunk of d is complete: no cross-chunk state)
// Bindings: 0 params, 1 qkv, 2 out.
struct Params { positions: u32, heads: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

// Frame count and head dim are pipeline constants so every loop over frames has a fixed trip count and
// the score row s[] can live in registers (a runtime bound would force dynamic indexing into memory).
override F: u32 = 16u;   // frames (≤ 64)
override D: u32 = 40u;   // head dim
override DT: u32 = 40u;  // head-dim columns per chunk (≤ 64: 64 rows × DT f32 ≤ 16 KiB)
const WG: u32 = 64u;
const MAX_F: u32 = 64u;

var<workgroup> tile: array<f32, WG * DT>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let P = p.positions;
  let C = p.heads * D;
  let C3 = 3u * C;
  let G = WG / F;
  let p0 = wid.x * G;
  let h = wid.y;
  let b = wid.z;
  let hd = h * D;

  let g = lid / F;
  let i = lid - g * F;
  let pos = p0 + g;
  let is_query = g < G && pos < P;
  // Row of this thread's token (frame i at position pos) in qkv / out.
  let my_row = (b * F + i) * P + pos;

  var s: array<f32, MAX_F>;
  for (var j = 0u; j < F; j++) { s[j] = 0.0; }

  // ---- pass 1: scores
  for (var d0 = 0u; d0 < D; d0 += DT) {
    let dn = min(DT, D - d0);
    for (var idx = lid; idx < WG * DT; idx += WG) {
      let r = idx / DT;
      let dd = idx - r * DT;
      let rg = r / F;
      let rf = r - rg * F;
      var x = 0.0;
      if (rg < G && p0 + rg < P && dd < dn) {
        x = f32(qkv[((b * F + rf) * P + p0 + rg) * C3 + C + hd + d0 + dd]);
      }
      tile[idx] = x;
    }
    workgroupBarrier();
    if (is_query) {
      let qb = my_row * C3 + hd + d0;
      for (var dd = 0u; dd < dn; dd++) {
        let qd = f32(qkv[qb + dd]) * p.scale;
        for (var j = 0u; j < F; j++) { s[j] += qd * tile[(g * F + j) * DT + dd]; }
      }
    }
    workgroupBarrier();
  }

  // ---- softmax over the F frames
  var m = -3.0e38;
  for (var j = 0u; j < F; j++) { m = max(m, s[j]); }
  var l = 0.0;
  for (var j = 0u; j < F; j++) {
    let e = exp(s[j] - m);
    s[j] = e;
    l += e;
  }
  let inv = 1.0 / l;

  // ---- pass 2: weighted sum of V
  for (var d0 = 0u; d0 < D; d0 += DT) {
    let dn = min(DT, D - d0);
    for (var idx = lid; idx < WG * DT; idx += WG) {
      let r = idx / DT;
      let dd = idx - r * DT;
      let rg = r / F;
      let rf = r - rg * F;
      var x = 0.0;
      if (rg < G && p0 + rg < P && dd < dn) {
        x = f32(qkv[((b * F + rf) * P + p0 + rg) * C3 + 2u * C + hd + d0 + dd]);
      }
      tile[idx] = x;
    }
    workgroupBarrier();
    if (is_query) {
      let ob = my_row * C + hd + d0;
      for (var dd = 0u; dd < dn; dd++) {
        var acc = 0.0;
        for (var j = 0u; j < F; j++) { acc += s[j] * tile[(g * F + j) * DT + dd]; }
        out[ob + dd] = T(acc * inv);
      }
    }
    workgroupBarrier();
  }
}
