// The form and model slots turned into one worker request, or the user error that stops it (pure).

import type { FormState } from './components/SettingsPanel';
import { settingsOf } from './form';
import { ChoiceError, choiceLabel, type ModelChoice, toSelection } from './model-choice';
import type { GenerateSettings, ModelSelection, PrecisionSetting, UserError } from '../../src/worker/protocol';

export interface GenerateRequest {
  selection: ModelSelection;
  precision: PrecisionSetting;
  settings: GenerateSettings;
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
  const settings = settingsOf(form, seed);
  if (!settings.prompt) return { error: { kind: 'invalid-settings', message: 'Write a prompt first.' } };
  return { request: { selection, precision: form.precision, settings, modelsLabel: choiceLabel(models) } };
}
