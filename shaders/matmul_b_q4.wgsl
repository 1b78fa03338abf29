// B loader for the GEMM core (matmul.wgsl): a weight-only int4 weight [N, K] with one scale per group of QG = 16
// consecutive k (src/weights/quantize.ts), dequantized while loading. Row n is ceil(K/8) u32 words; nibble j of
// word i is q[n, 8i + j] + 8 (q ∈ [-8, 7]); its scales are ceil(ceil(K/16)/2) words of two f16 each (low half =
// even group), read with unpack2x16float so f32 engines without shader-f16 run it too. w[n, k] = q · scale[n, k/16].
// The cursor's k is a multiple of 4 (a quad never straddles a group) and advances by TK = 32 = two groups; each
// read takes one half-word of values and the quad's scale. Rows are padded to whole words with q = 0, so only the
// quad's start needs k < K.
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(7) var<storage, read> b_scales: array<u32>;

const QG: u32 = 16u;

struct BCursor { row: u32, srow: u32, k: u32, ok: bool }

fn b_cursor(batch: u32, n: u32, k: u32) -> BCursor {
  let groups = (p.K + QG - 1u) / QG;
  return BCursor(n * ((p.K + 7u) / 8u), n * ((groups + 1u) / 2u), k, n < p.N);
}

fn b_next(c: ptr<function, BCursor>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  let k = (*c).k;
  if ((*c).ok && k < p.K) {
    // The 4 nibbles of k..k+3: the low or high 16 bits of word k/8.
    let bits = b[(*c).row + k / 8u] >> ((k & 4u) * 4u);
    let q = vec4<i32>(vec4<u32>(bits, bits >> 4u, bits >> 8u, bits >> 12u) & vec4<u32>(15u)) - vec4<i32>(8);
    let g = k / QG;
    let s = unpack2x16float(b_scales[(*c).srow + g / 2u])[g & 1u];
    v = vec4<f32>(q) * s;
  }
  (*c).k += TK;
  return v;
}
