// Scheduler names of the spec → the scheduler class and diffusers config the pipeline constructs.
import { defaultSchedulerFor, type DiffusersSchedulerConfig, maxInferenceSteps, type SchedulerClass, type SchedulerDefaults } from '../schedulers';
import { GenerateRequestError } from './errors';
import { type SchedulerName, SpecError } from './spec';

export interface SchedulerChoice {
  className: SchedulerClass;
  config: DiffusersSchedulerConfig;
}

/**
 * 'ddim' = AnimateDiff's DDIM (v1–v3), 'euler-trailing' = AnimateDiff-Lightning's Euler, 'lcm' = AnimateLCM's LCM
 * (src/schedulers defaultSchedulerFor); 'auto' = `motionDefaults`, what the loaded motion module was made for.
 */
export function resolveScheduler(name: SchedulerName, motionDefaults?: SchedulerDefaults): SchedulerChoice {
  const pick = (d: SchedulerDefaults): SchedulerChoice => ({ className: d.className, config: d.config });
  switch (name) {
    case 'ddim': return pick(defaultSchedulerFor('v2'));
    case 'euler-trailing': return pick(defaultSchedulerFor('lightning'));
    case 'lcm': return pick(defaultSchedulerFor('animatelcm'));
    case 'auto':
      if (!motionDefaults) throw new GenerateRequestError("scheduler 'auto' needs the motion module's defaults, and these models have none: name a scheduler");
      return pick(motionDefaults);
    default:
      throw new GenerateRequestError(`unknown scheduler '${String(name)}'`);
  }
}

const LABEL: Record<SchedulerClass, string> = { DDIMScheduler: 'DDIM', EulerDiscreteScheduler: 'Euler', LCMScheduler: 'LCM' };

/** Refuses more steps than the scheduler can make (LCM: its original_inference_steps), naming the limit. */
export function checkSchedulerSteps(choice: SchedulerChoice, steps: number): void {
  const max = maxInferenceSteps(choice.className, choice.config);
  if (steps > max) {
    throw new SpecError('steps', `the ${LABEL[choice.className]} scheduler takes at most ${max} steps${choice.className === 'LCMScheduler' ? ' (its original_inference_steps)' : ''} (got ${steps})`);
  }
}
