// LCM (ε-prediction), as diffusers' LCMScheduler (AnimateLCM). Timesteps come from the
// `original_inference_steps` distillation grid k·i − 1 (k = T / original steps), evenly subsampled:
//   x̂₀ = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t
//   s = timestep_scaling·t;  c_skip = σ_d²/(s²+σ_d²),  c_out = s/√(s²+σ_d²),  σ_d = 0.5
//   denoised = c_out·x̂₀ + c_skip·x_t
//   x_next = √ᾱ_next·denoised + √(1−ᾱ_next)·z  (z ~ N(0, I) fresh each step; the last step returns denoised)
// ᾱ_next uses the next timestep of the schedule. Float32 rounding as torch.
import { checkEpsilonConfig, checkSameLength, checkSteps, indexForTimestep } from './common';
import { gaussianNoise } from './noise';
import { alphasCumprod } from './tables';
import type { DiffusersSchedulerConfig, NoiseSource, Scheduler, SchedulerStepResult } from './types';

const f = Math.fround;
const SIGMA_DATA = 0.5;

export function lcmTimesteps(cfg: DiffusersSchedulerConfig, steps: number): number[] {
  const T = cfg.num_train_timesteps ?? 1000;
  const original = cfg.original_inference_steps ?? 50;
  const k = Math.floor(T / original);
  const origin = Array.from({ length: original }, (_, i) => (i + 1) * k - 1).reverse();
  if (steps > original) throw new Error(`LCM: num_inference_steps ${steps} exceeds original_inference_steps ${original}`);
  const stride = origin.length / steps; // np.linspace(0, len, steps, endpoint=False), floored
  return Array.from({ length: steps }, (_, i) => origin[Math.floor(i * stride)]);
}

export class LcmScheduler implements Scheduler {
  readonly name = 'lcm' as const;
  readonly timesteps: number[];
  readonly initNoiseSigma = 1;
  readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly timestepScaling: number;
  private stepIndex: number | null = null;

  /** `noise(n, i)` supplies the N(0, I) sample injected after step i (default: seeded Gaussian). */
  constructor(cfg: DiffusersSchedulerConfig, readonly numInferenceSteps: number, private readonly noise: NoiseSource = gaussianNoise(0)) {
    checkEpsilonConfig('LCM', cfg);
    if (cfg.clip_sample) throw new Error('LCM: clip_sample is not supported');
    checkSteps('LCM', numInferenceSteps, cfg.num_train_timesteps ?? 1000);
    this.alphasCumprod = alphasCumprod(cfg);
    this.finalAlphaCumprod = (cfg.set_alpha_to_one ?? true) ? 1 : this.alphasCumprod[0];
    this.timesteps = lcmTimesteps(cfg, numInferenceSteps);
    this.timestepScaling = cfg.timestep_scaling ?? 10;
  }

  scaleModelInput(latents: Float32Array): Float32Array {
    return latents.slice();
  }

  step(noisePred: Float32Array, t: number, latents: Float32Array): SchedulerStepResult {
    checkSameLength('LCM', noisePred, latents);
    if (this.stepIndex === null) this.stepIndex = indexForTimestep('LCM', this.timesteps, t);
    const i = this.stepIndex;
    if (i >= this.timesteps.length) throw new Error(`LCM.step: all ${this.timesteps.length} steps are done`);
    const last = i === this.timesteps.length - 1;
    const prevT = last ? t : this.timesteps[i + 1];
    const a = this.alphasCumprod[t];
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const s = f(t * this.timestepScaling);
    const s2 = f(f(s * s) + SIGMA_DATA * SIGMA_DATA);
    const cSkip = f((SIGMA_DATA * SIGMA_DATA) / s2), cOut = f(s / f(Math.sqrt(s2)));
    const sqrtA = f(Math.sqrt(a)), sqrtB = f(Math.sqrt(f(1 - a)));
    const n = latents.length;
    const denoised = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const x0 = f(f(latents[k] - f(sqrtB * noisePred[k])) / sqrtA);
      denoised[k] = f(cOut * x0) + f(cSkip * latents[k]);
    }
    let prev = denoised;
    if (!last) {
      const z = this.noise(n, i);
      if (z.length !== n) throw new Error(`LCM.step: the noise source returned ${z.length} values, expected ${n}`);
      const sa = f(Math.sqrt(aPrev)), sb = f(Math.sqrt(f(1 - aPrev)));
      prev = new Float32Array(n);
      for (let k = 0; k < n; k++) prev[k] = f(sa * denoised[k]) + f(sb * z[k]);
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: denoised };
  }
}
