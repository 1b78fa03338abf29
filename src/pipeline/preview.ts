// Cheap per-step preview: the predicted clean latents x̂₀ mapped linearly to RGB at latent resolution
// (the UI upscales). rgb = x̂₀ · M with the widely used SD1.5 latent→RGB factors (ComfyUI latent_formats.SD15),
// then (rgb + 1) / 2 clamped to [0, 1] → RGBA8.

/** Rows: latent channels 0..3; columns: R, G, B. */
export const SD15_LATENT_RGB: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/**
 * Latents (1, c, F, h, w) (diffusers layout, c = 4) → one RGBA8 image per frame, h × w.
 */
export function latentPreview(latents: Float32Array, frames: number, h: number, w: number, factors = SD15_LATENT_RGB): Uint8ClampedArray[] {
  const c = factors.length;
  if (latents.length !== c * frames * h * w) throw new RangeError(`latentPreview: ${latents.length} values for (1, ${c}, ${frames}, ${h}, ${w})`);
  const plane = h * w;
  const out: Uint8ClampedArray[] = [];
  for (let f = 0; f < frames; f++) {
    const img = new Uint8ClampedArray(plane * 4);
    for (let p = 0; p < plane; p++) {
      for (let k = 0; k < 3; k++) {
        let v = 0;
        for (let ch = 0; ch < c; ch++) v += latents[(ch * frames + f) * plane + p] * factors[ch][k];
        img[p * 4 + k] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
      }
      img[p * 4 + 3] = 255;
    }
    out.push(img);
  }
  return out;
}
