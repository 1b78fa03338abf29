// CPU layout conversions at the pipeline's edge: the scheduler works on diffusers' (b, c, f, h, w) latents,
// the UNet on NHWC frames [b*f, h, w, c] (row n = b*F + f). Latents are small (4 channels), so these loops are cheap.

/** (b, c, f, h, w) → [b*f, h, w, c]. */
export function videoToFramesNhwc(x: Float32Array, b: number, c: number, f: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  const plane = h * w;
  for (let bi = 0; bi < b; bi++) for (let ch = 0; ch < c; ch++) for (let fi = 0; fi < f; fi++) {
    const src = ((bi * c + ch) * f + fi) * plane;
    const dst = (bi * f + fi) * plane * c + ch;
    for (let p = 0; p < plane; p++) out[dst + p * c] = x[src + p];
  }
  return out;
}

/** [b*f, h, w, c] → (b, c, f, h, w). */
export function framesNhwcToVideo(x: Float32Array, b: number, c: number, f: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  const plane = h * w;
  for (let bi = 0; bi < b; bi++) for (let ch = 0; ch < c; ch++) for (let fi = 0; fi < f; fi++) {
    const dst = ((bi * c + ch) * f + fi) * plane;
    const src = (bi * f + fi) * plane * c + ch;
    for (let p = 0; p < plane; p++) out[dst + p] = x[src + p * c];
  }
  return out;
}

/** Frame `fi` of (1, c, F, h, w) latents as a (c, h, w) array (what the VAE decodes). */
export function latentFrame(x: Float32Array, c: number, frames: number, h: number, w: number, fi: number): Float32Array {
  const plane = h * w;
  const out = new Float32Array(c * plane);
  for (let ch = 0; ch < c; ch++) out.set(x.subarray((ch * frames + fi) * plane, (ch * frames + fi + 1) * plane), ch * plane);
  return out;
}
