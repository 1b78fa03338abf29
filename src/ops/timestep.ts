import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';

export interface TimestepEmbeddingOptions {
  /** [cos, sin] instead of [sin, cos] (SD1.5 UNet: true). */
  flipSinToCos: boolean;
  /** SD1.5 UNet: 0. */
  downscaleFreqShift: number;
  /** Default 10000. */
  maxPeriod?: number;
  /** Multiplies the arguments (diffusers `scale`, default 1). */
  scale?: number;
}

const f = Math.fround;

/**
 * diffusers `get_timestep_embedding` for one timestep per batch row, as float32 values [B * dim]:
 *   half = dim // 2;  exponent[i] = -ln(maxPeriod) · i / (half − shift);  freq = exp(exponent)   (float32)
 *   arg[b, i] = scale · t_b · freq[i];  emb = [sin(arg), cos(arg)] → [cos, sin] if flipped;  zero column if dim odd.
 * Every step is rounded to float32 in the order PyTorch evaluates it, so the result matches the float32 reference
 * to ~1 ulp of each step.
 */
export function timestepEmbeddingValues(timesteps: readonly number[], dim: number, o: TimestepEmbeddingOptions): Float32Array {
  const half = Math.floor(dim / 2);
  const maxPeriod = o.maxPeriod ?? 10000, scale = o.scale ?? 1;
  const denom = f(half - o.downscaleFreqShift);
  const negLog = f(-Math.log(maxPeriod));
  const freqs = new Float64Array(half);
  for (let i = 0; i < half; i++) freqs[i] = f(Math.exp(f(f(negLog * i) / denom)));
  const out = new Float32Array(timesteps.length * dim);
  timesteps.forEach((t, b) => {
    for (let i = 0; i < half; i++) {
      const arg = f(scale * f(f(t) * freqs[i]));
      const s = f(Math.sin(arg)), c = f(Math.cos(arg));
      out[b * dim + i] = o.flipSinToCos ? c : s;
      out[b * dim + half + i] = o.flipSinToCos ? s : c;
    }
    // odd dim: the last column stays 0 (F.pad(emb, (0, 1)))
  });
  return out;
}

/**
 * The sinusoidal timestep embedding as a [B, dim] tensor in the engine's dtype (input of the UNet's
 * time_embedding MLP). Computed on the CPU and uploaded, deliberately: it is B·dim values (a few KB) once per
 * denoising step, and its arguments reach t·1 ≈ 1000 rad, where WGSL's sin/cos have no accuracy guarantee (the
 * spec bounds them only on [−π, π]; GPUs' fast sin loses digits on large arguments). Math.sin/cos in float64 of
 * the float32 argument, rounded to float32, reproduces PyTorch's float32 result.
 */
export function timestepEmbedding(e: Engine, timesteps: readonly number[], dim: number, o: TimestepEmbeddingOptions): Tensor {
  if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`timestepEmbedding: dim must be an integer >= 2, got ${dim}`);
  if (timesteps.length === 0 || timesteps.some((t) => !Number.isFinite(t))) throw new RangeError(`timestepEmbedding: need one finite timestep per batch row, got [${timesteps}]`);
  if (Math.floor(dim / 2) - o.downscaleFreqShift === 0) throw new RangeError(`timestepEmbedding: dim ${dim} with downscaleFreqShift ${o.downscaleFreqShift} divides by zero`);
  return e.upload(timestepEmbeddingValues(timesteps, dim, o), [timesteps.length, dim]);
}
