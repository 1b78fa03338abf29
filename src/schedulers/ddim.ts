// DDIM (eta = 0, ε-prediction), as diffusers' DDIMScheduler. Scalars and element-wise ops are rounded
// to float32 after every operation torch does in float32, so results match diffusers to ~1 ulp.
//   x̂₀ = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t
//   x_prev = √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε,   prev = t − T/N (diffusers uses this for every spacing);
//   ᾱ_prev = 1 (set_alpha_to_one) or ᾱ_0 when prev < 0.
import { checkEpsilonConfig, checkSameLength, checkSteps } from './common';
import { alphasCumprod, npArangeDown, npLinspace, roundHalfEven } from './tables';
import type { DiffusersSchedulerConfig, Scheduler, SchedulerStepResult } from './types';

const f = Math.fround;

/** DDIM/LCM-style integer timesteps for `leading` / `linspace` / `trailing` spacing. */
export function ddimTimesteps(cfg: DiffusersSchedulerConfig, steps: number): number[] {
  const T = cfg.num_train_timesteps ?? 1000;
  const spacing = cfg.timestep_spacing ?? 'leading';
  const offset = cfg.steps_offset ?? 0;
  if (spacing === 'linspace') return npLinspace(0, T - 1, steps).map(roundHalfEven).reverse();
  if (spacing === 'leading') {
    const ratio = Math.floor(T / steps);
    return Array.from({ length: steps }, (_, i) => i * ratio + offset).reverse();
  }
  if (spacing === 'trailing') return npArangeDown(T, 0, -T / steps).map((v) => roundHalfEven(v) - 1);
  throw new Error(`DDIM: timestep_spacing '${spacing}' is not supported (leading, linspace, trailing)`);
}

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly timesteps: number[];
  readonly initNoiseSigma = 1;
  readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly stepRatio: number;
  private readonly clipRange: number | null;

  constructor(cfg: DiffusersSchedulerConfig, readonly numInferenceSteps: number) {
    checkEpsilonConfig('DDIM', cfg);
    const T = cfg.num_train_timesteps ?? 1000;
    checkSteps('DDIM', numInferenceSteps, T);
    this.alphasCumprod = alphasCumprod(cfg);
    this.finalAlphaCumprod = (cfg.set_alpha_to_one ?? true) ? 1 : this.alphasCumprod[0];
    this.timesteps = ddimTimesteps(cfg, numInferenceSteps);
    this.stepRatio = Math.floor(T / numInferenceSteps);
    this.clipRange = (cfg.clip_sample ?? true) ? Number(cfg.clip_sample_range ?? 1) : null;
  }

  scaleModelInput(latents: Float32Array): Float32Array {
    return latents.slice();
  }

  step(noisePred: Float32Array, t: number, latents: Float32Array): SchedulerStepResult {
    checkSameLength('DDIM', noisePred, latents);
    if (!Number.isInteger(t) || t < 0 || t >= this.alphasCumprod.length) throw new Error(`DDIM.step: timestep ${t} is outside [0, ${this.alphasCumprod.length})`);
    const prev = t - this.stepRatio;
    const a = this.alphasCumprod[t];
    const aPrev = prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
    const sqrtA = f(Math.sqrt(a)), sqrtB = f(Math.sqrt(f(1 - a)));
    const sqrtAPrev = f(Math.sqrt(aPrev)), dirScale = f(Math.sqrt(f(1 - aPrev)));
    const n = latents.length;
    const x0 = new Float32Array(n), out = new Float32Array(n);
    const clip = this.clipRange;
    for (let i = 0; i < n; i++) {
      let p = f(f(latents[i] - f(sqrtB * noisePred[i])) / sqrtA);
      if (clip !== null) p = Math.min(clip, Math.max(-clip, p));
      x0[i] = p;
      out[i] = f(sqrtAPrev * p) + f(dirScale * noisePred[i]);
    }
    return { prevSample: out, predOriginalSample: x0 };
  }
}
