// The settings form: a GenerationSpec being edited (it may be invalid until Generate: an empty prompt, say) plus
// the UI-only choices, its initial state, and the spec a run sends (validated by parseSpec).

import { formatKeyframes, parseKeyframes } from '../../src/pipeline/keyframes';
import { AUTO_PRECISION } from '../../src/pipeline/precision';
import { DEFAULT_SPEC, type GenerationSpec, parseSpec } from '../../src/pipeline/spec';
import type { PrecisionSetting } from '../../src/worker/protocol';

export interface FormState {
  /** The spec being edited; `seed` is the one shown (and used when randomizeSeed is off). */
  spec: GenerationSpec;
  /** The prompt editor's text (src/pipeline/keyframes.ts): one prompt, or "frame: prompt" lines; the spec's keyframes come from it. */
  promptText: string;
  /** Draw a new seed for every run (the seed used is always shown and can be kept by unticking). */
  randomizeSeed: boolean;
  /** How the worker computes and stores weights (not part of what the animation is). */
  precision: PrecisionSetting;
}

export function randomSeed(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0];
}

const INITIAL_PROMPT = 'a red panda walking through a snowy forest, soft light, highly detailed';

export const INITIAL_FORM: FormState = {
  promptText: INITIAL_PROMPT,
  spec: {
    ...DEFAULT_SPEC,
    prompts: [{ frame: 0, prompt: INITIAL_PROMPT }],
    negativePrompt: 'blurry, low quality, watermark, text',
    seed: randomSeed(),
    scheduler: 'ddim',
  },
  randomizeSeed: true,
  precision: AUTO_PRECISION,
};

/**
 * The spec a run sends: the form's, with this run's seed and the keyframes of the prompt text; a KeyframeTextError
 * (naming the line) or a SpecError (naming the field) says what is wrong.
 */
export function specOf(f: FormState, seed: number): GenerationSpec {
  return parseSpec({
    ...f.spec,
    seed,
    prompts: parseKeyframes(f.promptText, f.spec.frames),
    negativePrompt: f.spec.negativePrompt.trim(),
  });
}

/** The form after the prompt text changed: the spec's keyframes follow whenever the text parses. */
export function withPromptText(f: FormState, promptText: string): FormState {
  try {
    return { ...f, promptText, spec: { ...f.spec, prompts: parseKeyframes(promptText, f.spec.frames) } };
  } catch {
    return { ...f, promptText };
  }
}

/** The form showing a stored spec (history): its seed is kept, not redrawn. */
export function formWithSpec(f: FormState, spec: GenerationSpec): FormState {
  return { ...f, spec, promptText: formatKeyframes(spec.prompts), randomizeSeed: false };
}
