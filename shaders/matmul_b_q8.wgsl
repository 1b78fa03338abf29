// B loader for the GEMM core (matmul.wgsl): a weight-only int8 weight [N, K] (src/weights/quantize.ts),
// dequantized while loading. Row n is ceil(K/4) u32 words; byte j of word i is q[n, 4i + j] (two's complement),
// and w[n, k] = q[n, k] · scale[n] (symmetric, one f32 scale per output channel). The cursor's k is always a
// multiple of 4 (the core asks for k-quads), so one word is exactly the 4 values it yields; rows are padded
// with zeros to whole words, so only the quad's start needs the k < K check.
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(7) var<storage, read> b_scales: array<f32>;

struct BCursor { idx: u32, k: u32, ok: bool, scale: f32 }

fn b_cursor(batch: u32, n: u32, k: u32) -> BCursor {
  let ok = n < p.N;
  var s = 0.0;
  if (ok) { s = b_scales[n]; }
  return BCursor(n * ((p.K + 3u) / 4u) + k / 4u, k, ok, s);
}

fn b_next(c: ptr<function, BCursor>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if ((*c).ok && (*c).k < p.K) {
    let w = b[(*c).idx];
    // Sign-extend each byte: shift it to the top, then arithmetic-shift back down.
    let q = vec4<i32>(bitcast<i32>(w << 24u), bitcast<i32>(w << 16u), bitcast<i32>(w << 8u), bitcast<i32>(w)) >> vec4<u32>(24u);
    v = vec4<f32>(q) * (*c).scale;
  }
  (*c).idx += TK / 4u;
  (*c).k += TK;
  return v;
}
