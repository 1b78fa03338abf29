// The settings form's initial state and its translation into the worker's GenerateSettings.

import type { FormState } from './components/SettingsPanel';
import type { GenerateSettings } from '../../src/worker/protocol';
import { AUTO_PRECISION } from '../../src/pipeline/precision';

export function randomSeed(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0];
}

export const INITIAL_FORM: FormState = {
  prompt: 'a red panda walking through a snowy forest, soft light, highly detailed',
  negativePrompt: 'blurry, low quality, watermark, text',
  seed: randomSeed(),
  randomizeSeed: true,
  frames: 16,
  width: 512,
  height: 512,
  steps: 25,
  guidance: 7.5,
  scheduler: 'ddim',
  clipSkip: 1,
  precision: AUTO_PRECISION,
};

/** The request's settings from the form, with the seed this run uses. */
export function settingsOf(f: FormState, seed: number): GenerateSettings {
  return {
    prompt: f.prompt.trim(), negativePrompt: f.negativePrompt.trim(), seed, frames: f.frames, width: f.width, height: f.height,
    steps: f.steps, guidance: f.guidance, scheduler: f.scheduler, clipSkip: f.clipSkip > 1 ? f.clipSkip : undefined,
  };
}
