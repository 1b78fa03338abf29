// Noise-schedule tables computed the way diffusers computes them, in float32 (Math.fround after every
// operation that torch performs in float32), so timesteps and ᾱ match the reference bit for bit.
import type { DiffusersSchedulerConfig } from './types';

const f = Math.fround;

/**
 * torch.linspace(start, end, steps, dtype=float32) on the CPU: step = (end − start)/(steps − 1) in float32;
 * the first half counts up from start, the second half down from end; the vectorised kernel fills
 * `lanes` elements from one base (base + j·step). lanes = 8 (AVX2) is what produced the reference tables.
 */
export function torchLinspaceF32(start: number, end: number, steps: number, lanes = 8): Float32Array {
  const s = f(start), e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const out = new Float32Array(steps);
  for (let i0 = 0; i0 < steps; i0 += lanes) {
    const base = i0 < half ? f(s + f(step * i0)) : f(e - f(step * (steps - i0 - 1)));
    for (let j = 0; j < lanes && i0 + j < steps; j++) out[i0 + j] = f(base + f(step * j));
  }
  return out;
}

/** β table for diffusers' `linear` / `scaled_linear` schedules (float32). */
export function betaSchedule(cfg: DiffusersSchedulerConfig): Float32Array {
  const n = cfg.num_train_timesteps ?? 1000;
  const start = cfg.beta_start ?? 0.0001, end = cfg.beta_end ?? 0.02;
  if (cfg.trained_betas) return Float32Array.from(cfg.trained_betas);
  const kind = cfg.beta_schedule ?? 'linear';
  if (kind === 'linear') return torchLinspaceF32(start, end, n);
  if (kind === 'scaled_linear') return torchLinspaceF32(Math.sqrt(start), Math.sqrt(end), n).map((b) => f(b * b));
  throw new Error(`scheduler: beta_schedule '${kind}' is not supported (linear, scaled_linear)`);
}

/**
 * ᾱ_t = Π_{s≤t} (1 − β_s): alphas in float32, torch.cumprod accumulating in double (CPU acc_type of
 * float) and rounding each output to float32.
 */
export function alphasCumprod(cfg: DiffusersSchedulerConfig): Float32Array {
  if (cfg.rescale_betas_zero_snr) throw new Error('scheduler: rescale_betas_zero_snr is not supported');
  const betas = betaSchedule(cfg);
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/** numpy's round (half to even), as np.round / ndarray.round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.linspace(start, stop, num) (endpoint=True): start + i·((stop − start)/(num − 1)), last = stop. */
export function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step));
}

/** np.arange(start, stop, step) for a negative float step. */
export function npArangeDown(start: number, stop: number, step: number): number[] {
  const n = Math.ceil((stop - start) / step);
  return Array.from({ length: n }, (_, i) => start + i * step);
}
