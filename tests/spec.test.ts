// GenerationSpec: parseSpec fills defaults, migrates the pre-spec settings (version 0), and names the bad field.
import { describe, expect, it } from 'vitest';
import { makeSpec, parseSpec, SPEC_VERSION, SpecError } from '../src/pipeline/spec';
import { checkSchedulerSteps, resolveScheduler } from '../src/pipeline/scheduler-choice';
import { createScheduler, defaultSchedulerFor } from '../src/schedulers';
import { describeError } from '../src/worker/errors';

const base = { version: 1, prompts: [{ frame: 0, prompt: 'a bud' }], seed: 7, frames: 16, width: 512, height: 384, steps: 20, guidance: 7.5 };

function fieldOf(f: () => unknown): { field: string; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return { field: (e as SpecError).field, message: (e as Error).message };
  }
  throw new Error('no SpecError');
}

describe('parseSpec', () => {
  it('fills the optional fields with their defaults and keeps the given ones', () => {
    expect(parseSpec(base)).toEqual({
      ...base, negativePrompt: '', scheduler: 'auto', clipSkip: 0, motionStrength: 1, context: null, freeInit: null,
    });
    expect(parseSpec({ ...base, motionStrength: 1.5, scheduler: 'lcm' })).toMatchObject({ motionStrength: 1.5, scheduler: 'lcm' });
  });

  it('returns a spec that parses to itself (history round trip through JSON)', () => {
    const s = parseSpec({
      ...base, prompts: [{ frame: 0, prompt: 'a bud' }, { frame: 8, prompt: 'a flower' }],
      context: { method: 'uniform', length: 8, stride: 2, overlap: 2, closedLoop: true, fuse: 'flat' },
      freeInit: { iterations: 2, method: 'gaussian', order: 4, spatialStopFrequency: 0.5, temporalStopFrequency: 0.3, fastSampling: true },
    });
    expect(parseSpec(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });

  it('sorts keyframes by frame and drops unknown fields', () => {
    const s = parseSpec({ ...base, prompts: [{ frame: 8, prompt: 'b' }, { frame: 0, prompt: 'a' }], extra: 1 });
    expect(s.prompts).toEqual([{ frame: 0, prompt: 'a' }, { frame: 8, prompt: 'b' }]);
    expect('extra' in s).toBe(false);
  });

  it('fills context and FreeInit options from diffusers / animatediff-cli defaults', () => {
    expect(parseSpec({ ...base, context: { method: 'freenoise' } }).context).toEqual({ method: 'freenoise', length: 16, stride: 4, weighting: 'pyramid', noise: 'shuffle_context' });
    expect(parseSpec({ ...base, context: { method: 'uniform', length: 8 } }).context).toEqual({ method: 'uniform', length: 8, stride: 1, overlap: 4, closedLoop: false, fuse: 'pyramid' });
    expect(parseSpec({ ...base, freeInit: {} }).freeInit).toEqual({ iterations: 3, method: 'butterworth', order: 4, spatialStopFrequency: 0.25, temporalStopFrequency: 0.25, fastSampling: false });
  });

  it('migrates the pre-spec settings: one prompt, A1111 CLIP skip → layers skipped', () => {
    const v0 = { prompt: 'a cat', negativePrompt: 'blur', seed: 3, frames: 16, width: 512, height: 512, steps: 25, guidance: 7.5, scheduler: 'ddim', clipSkip: 2 };
    expect(parseSpec(v0)).toEqual({
      version: SPEC_VERSION, prompts: [{ frame: 0, prompt: 'a cat' }], negativePrompt: 'blur', seed: 3, frames: 16, width: 512, height: 512,
      steps: 25, guidance: 7.5, scheduler: 'ddim', clipSkip: 1, motionStrength: 1, context: null, freeInit: null,
    });
    expect(parseSpec({ ...v0, clipSkip: undefined }).clipSkip).toBe(0);
  });

  it('names the bad field with the allowed range', () => {
    expect(fieldOf(() => parseSpec(null))).toMatchObject({ field: '' });
    expect(fieldOf(() => parseSpec({ ...base, version: 99 }))).toMatchObject({ field: 'version' });
    expect(fieldOf(() => parseSpec({ ...base, frames: 2000 }))).toEqual({ field: 'frames', message: 'Frames must be a whole number from 1 to 1024 (got 2000).' });
    expect(fieldOf(() => parseSpec({ ...base, width: 500 }))).toEqual({ field: 'width', message: 'Width must be a multiple of 8 from 8 to 2048 (got 500).' });
    expect(fieldOf(() => parseSpec({ ...base, steps: 0 }))).toMatchObject({ field: 'steps' });
    expect(fieldOf(() => parseSpec({ ...base, guidance: Number.NaN }))).toMatchObject({ field: 'guidance' });
    expect(fieldOf(() => parseSpec({ ...base, seed: -1 }))).toEqual({ field: 'seed', message: 'Seed must be a whole number from 0 to 4294967295 (got -1).' });
    expect(fieldOf(() => parseSpec({ ...base, scheduler: 'pndm' }))).toMatchObject({ field: 'scheduler' });
    expect(fieldOf(() => parseSpec({ ...base, motionStrength: 2 }))).toMatchObject({ field: 'motionStrength' });
    expect(fieldOf(() => parseSpec({ ...base, context: { method: 'sliding' } }))).toMatchObject({ field: 'context.method' });
    expect(fieldOf(() => parseSpec({ ...base, context: { method: 'uniform', length: 8, overlap: 8 } }))).toEqual({ field: 'context.overlap', message: 'Context.overlap must be a whole number from 0 to 7 (got 8).' });
    expect(fieldOf(() => parseSpec({ ...base, context: { method: 'freenoise', length: 8, stride: 9 } }))).toMatchObject({ field: 'context.stride' });
    expect(fieldOf(() => parseSpec({ ...base, freeInit: { method: 'box' } }))).toMatchObject({ field: 'freeInit.method' });
    expect(fieldOf(() => parseSpec({ ...base, freeInit: { spatialStopFrequency: 2 } }))).toMatchObject({ field: 'freeInit.spatialStopFrequency' });
  });

  it('refuses keyframes out of range, duplicated, not starting at 0, or with an empty prompt', () => {
    const kf = (...p: [number, string][]) => ({ ...base, prompts: p.map(([frame, prompt]) => ({ frame, prompt })) });
    expect(fieldOf(() => parseSpec(kf([0, 'a'], [16, 'b'])))).toEqual({ field: 'prompts[1].frame', message: 'Keyframe at frame 16 is out of range: the animation has frames 0 to 15.' });
    expect(fieldOf(() => parseSpec(kf([0, 'a'], [4, 'b'], [4, 'c'])))).toEqual({ field: 'prompts', message: 'Two keyframes are at frame 4: give each frame one prompt.' });
    expect(fieldOf(() => parseSpec(kf([2, 'a'])))).toMatchObject({ field: 'prompts' });
    expect(fieldOf(() => parseSpec(kf([0, 'a'], [4, '  '])))).toEqual({ field: 'prompts[1].prompt', message: 'The prompt of the keyframe at frame 4 is empty.' });
    expect(fieldOf(() => parseSpec(kf([0, ''])))).toEqual({ field: 'prompts[0].prompt', message: 'The prompt is empty: write a prompt first.' });
    expect(fieldOf(() => parseSpec({ ...base, prompts: [] }))).toMatchObject({ field: 'prompts' });
    expect(fieldOf(() => parseSpec({ ...base, prompts: [{ frame: 0.5, prompt: 'a' }] }))).toMatchObject({ field: 'prompts[0].frame' });
  });

  it('makeSpec builds a valid spec from a few fields', () => {
    expect(makeSpec({ prompt: 'x', frames: 8 })).toMatchObject({ prompts: [{ frame: 0, prompt: 'x' }], frames: 8, version: SPEC_VERSION });
  });
});

describe('resolveScheduler', () => {
  it('maps names to the motion modules\' schedulers and auto to the loaded module\'s defaults', () => {
    expect(resolveScheduler('ddim').className).toBe('DDIMScheduler');
    expect(resolveScheduler('euler-trailing').config.timestep_spacing).toBe('trailing');
    expect(resolveScheduler('lcm').className).toBe('LCMScheduler');
    const lightning = defaultSchedulerFor('lightning');
    expect(resolveScheduler('auto', lightning)).toEqual({ className: lightning.className, config: lightning.config });
    expect(() => resolveScheduler('auto')).toThrow(/needs the motion module's defaults/);
  });
});

describe('checkSchedulerSteps', () => {
  it('refuses more LCM steps than its original_inference_steps, with a clear message; DDIM and Euler take 1–100', () => {
    const lcm = resolveScheduler('lcm');
    const original = lcm.config.original_inference_steps!;
    expect(() => checkSchedulerSteps(lcm, original)).not.toThrow();
    // …and the scheduler then really builds that many steps.
    expect(createScheduler(lcm.className, lcm.config, original).timesteps).toHaveLength(original);
    let err: unknown;
    try { checkSchedulerSteps(lcm, original + 1); } catch (e) { err = e; }
    const u = describeError(err);
    expect(u.kind).toBe('invalid-settings');
    expect(u.message).toBe(`The LCM scheduler takes at most ${original} steps (its original_inference_steps) (got ${original + 1}).`);
    expect(() => createScheduler(lcm.className, lcm.config, original + 1)).toThrow();
    for (const name of ['ddim', 'euler-trailing'] as const) {
      const c = resolveScheduler(name);
      for (const steps of [1, 50, 100]) {
        expect(() => checkSchedulerSteps(c, steps)).not.toThrow();
        expect(createScheduler(c.className, c.config, steps).timesteps).toHaveLength(steps);
      }
    }
  });
});
