import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/schedulers';
import { describeError } from '../../src/worker/errors';
import type { GenerateSettings } from '../../src/worker/protocol';
import { schedulerFor, validateSettings } from '../../src/worker/settings';

const settings: GenerateSettings = { prompt: 'p', negativePrompt: '', seed: 1, frames: 16, width: 512, height: 512, steps: 25, guidance: 7.5, scheduler: 'ddim' };

describe('settings validation against the scheduler', () => {
  it('refuses more LCM steps than its original_inference_steps, with a clear message', () => {
    const lcm = { ...settings, scheduler: 'lcm' as const, guidance: 1.5 };
    const original = schedulerFor('lcm').config.original_inference_steps!;
    expect(() => validateSettings({ ...lcm, steps: original })).not.toThrow();
    // …and the scheduler then really builds that many steps.
    expect(createScheduler('LCMScheduler', schedulerFor('lcm').config, original).timesteps).toHaveLength(original);
    let err: unknown;
    try { validateSettings({ ...lcm, steps: original + 1 }); } catch (e) { err = e; }
    const u = describeError(err);
    expect(u.kind).toBe('invalid-settings');
    expect(u.message).toBe(`The LCM scheduler takes at most ${original} steps (its original_inference_steps) (got ${original + 1}).`);
    expect(() => createScheduler('LCMScheduler', schedulerFor('lcm').config, original + 1)).toThrow();
  });

  it('allows every step count in range for DDIM and Euler', () => {
    for (const scheduler of ['ddim', 'euler-trailing'] as const) {
      for (const steps of [1, 50, 100]) {
        expect(() => validateSettings({ ...settings, scheduler, steps })).not.toThrow();
        expect(createScheduler(schedulerFor(scheduler).className, schedulerFor(scheduler).config, steps).timesteps).toHaveLength(steps);
      }
    }
  });
});
