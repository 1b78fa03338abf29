// Classifier-free guidance: ε = ε_uncond + g·(ε_text − ε_uncond), in float32 as torch computes it.
const f = Math.fround;

export function classifierFreeGuidance(uncond: Float32Array, text: Float32Array, guidance: number): Float32Array {
  if (uncond.length !== text.length) {
    throw new Error(`classifierFreeGuidance: uncond has ${uncond.length} elements but text has ${text.length}`);
  }
  const g = f(guidance);
  const out = new Float32Array(uncond.length);
  for (let i = 0; i < out.length; i++) out[i] = uncond[i] + f(g * f(text[i] - uncond[i]));
  return out;
}

/** diffusers runs CFG (a doubled batch) only when guidance_scale > 1. */
export function usesCfg(guidance: number): boolean {
  return guidance > 1;
}
