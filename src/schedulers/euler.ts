// Euler discrete (ε-prediction, no churn), as diffusers' EulerDiscreteScheduler; AnimateDiff-Lightning
// uses `trailing` spacing. σ_t = √((1−ᾱ_t)/ᾱ_t) (float32 table), interpolated linearly at the timesteps;
//   UNet input = x / √(σ²+1);  x̂₀ = x − σ·ε;  x_next = x + ((x − x̂₀)/σ)·(σ_next − σ),  σ after the last step = 0.
// init_noise_sigma = σ_max for linspace/trailing spacing, √(σ_max²+1) otherwise.
import { checkEpsilonConfig, checkSameLength, checkSteps, indexForTimestep } from './common';
import { alphasCumprod, npArangeDown, npLinspace, roundHalfEven } from './tables';
import type { DiffusersSchedulerConfig, Scheduler, SchedulerStepResult } from './types';

const f = Math.fround;

export function eulerTimesteps(cfg: DiffusersSchedulerConfig, steps: number): number[] {
  const T = cfg.num_train_timesteps ?? 1000;
  const spacing = cfg.timestep_spacing ?? 'linspace';
  // Timesteps are float32 in diffusers (linspace ones are fractional).
  if (spacing === 'linspace') return npLinspace(0, T - 1, steps).reverse().map(f);
  if (spacing === 'leading') {
    const ratio = Math.floor(T / steps);
    return Array.from({ length: steps }, (_, i) => i * ratio + (cfg.steps_offset ?? 0)).reverse();
  }
  if (spacing === 'trailing') return npArangeDown(T, 0, -T / steps).map((v) => roundHalfEven(v) - 1);
  throw new Error(`Euler: timestep_spacing '${spacing}' is not supported (linspace, leading, trailing)`);
}

export class EulerDiscreteScheduler implements Scheduler {
  readonly name = 'euler' as const;
  readonly timesteps: number[];
  readonly initNoiseSigma: number;
  readonly alphasCumprod: Float32Array;
  /** σ at each timestep plus the final 0 (float32). */
  readonly sigmas: Float32Array;
  private stepIndex: number | null = null;

  constructor(cfg: DiffusersSchedulerConfig, readonly numInferenceSteps: number) {
    checkEpsilonConfig('Euler', cfg);
    for (const k of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas'] as const) {
      if (cfg[k]) throw new Error(`Euler: ${k} is not supported`);
    }
    if ((cfg.interpolation_type ?? 'linear') !== 'linear') throw new Error(`Euler: interpolation_type '${cfg.interpolation_type}' is not supported (linear)`);
    if ((cfg.final_sigmas_type ?? 'zero') !== 'zero') throw new Error(`Euler: final_sigmas_type '${cfg.final_sigmas_type}' is not supported (zero)`);
    if ((cfg.timestep_type ?? 'discrete') !== 'discrete') throw new Error(`Euler: timestep_type '${cfg.timestep_type}' is not supported (discrete)`);
    const T = cfg.num_train_timesteps ?? 1000;
    checkSteps('Euler', numInferenceSteps, T);
    this.alphasCumprod = alphasCumprod(cfg);
    const table = this.alphasCumprod.map((a) => f(Math.sqrt(f(f(1 - a) / a))));
    this.timesteps = eulerTimesteps(cfg, numInferenceSteps);
    // np.interp(t, arange(T), table) in float64, then float32.
    const sig = this.timesteps.map((t) => {
      const lo = Math.max(0, Math.min(T - 1, Math.floor(t))), hi = Math.min(T - 1, lo + 1);
      const w = t - lo;
      return f(table[lo] + (table[hi] - table[lo]) * w);
    });
    this.sigmas = Float32Array.from([...sig, 0]);
    const maxSigma = Math.max(...this.sigmas);
    const spacing = cfg.timestep_spacing ?? 'linspace';
    this.initNoiseSigma = spacing === 'linspace' || spacing === 'trailing' ? maxSigma : f(Math.sqrt(f(f(maxSigma * maxSigma) + 1)));
  }

  private indexFor(t: number): number {
    if (this.stepIndex === null) this.stepIndex = indexForTimestep('Euler', this.timesteps, t);
    return this.stepIndex;
  }

  scaleModelInput(latents: Float32Array, t: number): Float32Array {
    const s = this.sigmas[this.indexFor(t)];
    const d = f(Math.sqrt(f(f(s * s) + 1)));
    return latents.map((x) => x / d);
  }

  step(noisePred: Float32Array, t: number, latents: Float32Array): SchedulerStepResult {
    checkSameLength('Euler', noisePred, latents);
    const i = this.indexFor(t);
    if (i >= this.timesteps.length) throw new Error(`Euler.step: all ${this.timesteps.length} steps are done`);
    const s = this.sigmas[i], dt = f(this.sigmas[i + 1] - s);
    const n = latents.length;
    const x0 = new Float32Array(n), out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const x = latents[k];
      const p = f(x - f(s * noisePred[k]));
      x0[k] = p;
      out[k] = x + f(f(f(x - p) / s) * dt);
    }
    this.stepIndex = i + 1;
    return { prevSample: out, predOriginalSample: x0 };
  }
}
