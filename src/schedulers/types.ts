// Scheduler API shared by DDIM, Euler and LCM. Latents are Float32Array in the diffusers layout
// (b, c, f, h, w) — element-wise math only, so any layout works as long as all arguments agree.

/** diffusers `scheduler_config.json` fields (snake_case, as on the Hub); missing fields take diffusers' defaults. */
export interface DiffusersSchedulerConfig {
  _class_name?: string;
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: string;
  trained_betas?: number[] | null;
  prediction_type?: string;
  timestep_spacing?: string;
  steps_offset?: number;
  set_alpha_to_one?: boolean;
  clip_sample?: boolean;
  thresholding?: boolean;
  rescale_betas_zero_snr?: boolean;
  // Euler
  interpolation_type?: string;
  use_karras_sigmas?: boolean;
  use_exponential_sigmas?: boolean;
  use_beta_sigmas?: boolean;
  timestep_type?: string;
  final_sigmas_type?: string;
  sigma_min?: number | null;
  sigma_max?: number | null;
  // LCM
  original_inference_steps?: number;
  timestep_scaling?: number;
  [key: string]: unknown;
}

export interface SchedulerStepResult {
  prevSample: Float32Array;
  /** x̂₀ (for LCM: the boundary-condition `denoised`, which diffusers also returns as x0). */
  predOriginalSample: Float32Array;
}

export interface Scheduler {
  readonly name: 'ddim' | 'euler' | 'lcm';
  /** Timesteps to run, in order (passed to the UNet). */
  readonly timesteps: number[];
  /** Initial latents = N(0, 1) · initNoiseSigma. */
  readonly initNoiseSigma: number;
  /** ᾱ table (float32, as diffusers). */
  readonly alphasCumprod: Float32Array;
  /** The UNet input for timestep t (a new array; the input is untouched). Identity for DDIM/LCM. */
  scaleModelInput(latents: Float32Array, t: number): Float32Array;
  /** One denoising step with an ε prediction (after CFG); returns new arrays. Call in timestep order. */
  step(noisePred: Float32Array, t: number, latents: Float32Array): SchedulerStepResult;
}

/** Source of standard-normal noise for schedulers that inject it (LCM): `n` samples. */
export type NoiseSource = (n: number, step: number) => Float32Array;
