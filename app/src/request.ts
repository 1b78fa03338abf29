// The form and model slots turned into one worker request, or the user error that stops it (pure).

import { type FormState, specOf } from './form';
import { ChoiceError, choiceLabel, type ModelChoice, toSelection } from './model-choice';
import { KeyframeTextError } from '../../src/pipeline/keyframes';
import { type GenerationSpec, SpecError } from '../../src/pipeline/spec';
import type { ModelSelection, PrecisionSetting, UserError } from '../../src/worker/protocol';

export interface GenerateRequest {
  selection: ModelSelection;
  precision: PrecisionSetting;
  spec: GenerationSpec;
  /** Readable model description kept with the result. */
  modelsLabel: string;
}

export function prepareRequest(form: FormState, models: ModelChoice, seed: number): { request: GenerateRequest } | { error: UserError } {
  let selection: ModelSelection;
  try {
    selection = toSelection(models);
  } catch (e) {
    if (e instanceof ChoiceError) return { error: { kind: 'invalid-settings', message: e.message } };
    throw e;
  }
  let spec: GenerationSpec;
  try {
    spec = specOf(form, seed);
  } catch (e) {
    if (e instanceof SpecError || e instanceof KeyframeTextError) return { error: { kind: 'invalid-settings', message: e.message } };
    throw e;
  }
  return { request: { selection, precision: form.precision, spec, modelsLabel: choiceLabel(models) } };
}
