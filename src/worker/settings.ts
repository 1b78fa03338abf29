// The ranges of a generation's settings, checked in the worker before anything touches the GPU.

import { KindedError } from '../errors';
import type { SchedulerChoice } from '../pipeline/generate';
import { defaultSchedulerFor, maxInferenceSteps } from '../schedulers';
import type { GenerateSettings, SchedulerName } from './protocol';

/** Settings the worker refuses before touching the GPU (the message names the setting and the allowed range). */
export class InvalidSettingsError extends KindedError {
  constructor(message: string) {
    super('invalid-settings', message);
  }
}

export const LIMITS = {
  frames: { min: 8, max: 32 },
  /**
   * Image sides: multiples of the SD VAE's scale factor (2^(VAE levels − 1) = 8 for every SD1.x VAE). The UNet takes
   * any latent size (upsample_size), and the pipeline re-checks against the loaded VAE's own factor.
   */
  size: { min: 64, max: 1024, multiple: 8 },
  steps: { min: 1, max: 100 },
  guidance: { min: 0, max: 30 },
} as const;

/** Rejects settings outside what the models support, naming the setting and the allowed range. */
export function validateSettings(s: GenerateSettings): void {
  const int = (v: number) => Number.isInteger(v);
  if (!int(s.frames) || s.frames < LIMITS.frames.min || s.frames > LIMITS.frames.max) {
    throw new InvalidSettingsError(`Frames must be a whole number from ${LIMITS.frames.min} to ${LIMITS.frames.max} (got ${s.frames}).`);
  }
  for (const [name, v] of [['Width', s.width], ['Height', s.height]] as const) {
    if (!int(v) || v < LIMITS.size.min || v > LIMITS.size.max || v % LIMITS.size.multiple !== 0) {
      throw new InvalidSettingsError(`${name} must be a multiple of ${LIMITS.size.multiple} from ${LIMITS.size.min} to ${LIMITS.size.max} (got ${v}).`);
    }
  }
  if (!int(s.steps) || s.steps < LIMITS.steps.min || s.steps > LIMITS.steps.max) {
    throw new InvalidSettingsError(`Steps must be a whole number from ${LIMITS.steps.min} to ${LIMITS.steps.max} (got ${s.steps}).`);
  }
  const { className, config } = schedulerFor(s.scheduler);
  const maxSteps = maxInferenceSteps(className, config);
  if (s.steps > maxSteps) {
    throw new InvalidSettingsError(`The ${SCHEDULER_LABEL[s.scheduler]} scheduler takes at most ${maxSteps} steps${className === 'LCMScheduler' ? ` (its original_inference_steps)` : ''} (got ${s.steps}).`);
  }
  if (!Number.isFinite(s.guidance) || s.guidance < LIMITS.guidance.min || s.guidance > LIMITS.guidance.max) {
    throw new InvalidSettingsError(`Guidance must be from ${LIMITS.guidance.min} to ${LIMITS.guidance.max} (got ${s.guidance}).`);
  }
  if (!int(s.seed) || s.seed < 0 || s.seed > 0xffffffff) {
    throw new InvalidSettingsError(`The seed must be a whole number from 0 to 4294967295 (got ${s.seed}).`);
  }
}

const SCHEDULER_LABEL: Record<SchedulerName, string> = { ddim: 'DDIM', 'euler-trailing': 'Euler (trailing)', lcm: 'LCM' };

/** The scheduler class and config each UI scheduler choice maps to (see src/schedulers defaultSchedulerFor). */
export function schedulerFor(name: SchedulerName): SchedulerChoice {
  const version = name === 'ddim' ? 'v2' : name === 'euler-trailing' ? 'lightning' : 'animatelcm';
  const d = defaultSchedulerFor(version);
  return { className: d.className, config: d.config };
}
