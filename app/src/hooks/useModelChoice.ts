// The four model slots, and what changing them does to the form: base and motion stay in one family, the base's
// default size and the motion module's recommended scheduler/steps/guidance (and companion LoRA) follow the choice.

import { useState } from 'react';
import type { FormState } from '../form';
import type { SlotChoice } from '../components/SourcePicker';
import { type ModelChoice, motionPreset } from '../model-choice';
import { BASE_PRESETS } from '../presets';

export const INITIAL_MODELS: ModelChoice = {
  base: { mode: 'preset', presetId: 'sd15' },
  motion: { mode: 'preset', presetId: 'v2' },
  motionLora: { mode: 'none' },
  motionLoraStrength: 0.8,
  sdLora: { mode: 'none' },
  sdLoraStrength: 0.8,
};

export function useModelChoice(setForm: (update: (f: FormState) => FormState) => void) {
  const [models, setModels] = useState<ModelChoice>(INITIAL_MODELS);

  const changeModels = (next: ModelChoice) => {
    const prevMotion = motionPreset(models);
    // Keep base and motion in the same family (the tiny test model only pairs with its tiny motion module).
    if (next.base !== models.base && next.base.mode === 'preset') {
      const family = BASE_PRESETS.find((p) => p.id === (next.base as { presetId: string }).presetId)?.family;
      const m = motionPreset(next);
      if (family === 'tiny' && m?.family !== 'tiny') next = { ...next, motion: { mode: 'preset', presetId: 'tiny' } };
      if (family === 'sd15' && m?.family === 'tiny') next = { ...next, motion: { mode: 'preset', presetId: 'v2' } };
      const size = BASE_PRESETS.find((p) => p.id === (next.base as { presetId: string }).presetId)?.defaultSize;
      if (size) setForm((f) => ({ ...f, spec: { ...f.spec, width: size, height: size, frames: family === 'tiny' ? 8 : Math.max(f.spec.frames, 16) } }));
    }
    const m = motionPreset(next);
    if (m && m !== prevMotion) {
      // The scheduler, steps and guidance the motion module was trained/distilled for (overridable afterwards).
      setForm((f) => ({ ...f, spec: { ...f.spec, ...m.recommended } }));
      if (m.companionLora) next = { ...next, sdLora: { mode: 'preset', presetId: `${m.id}-lora` } as SlotChoice, sdLoraStrength: m.companionLora.strength };
      else if (prevMotion?.companionLora && next.sdLora.mode === 'preset' && next.sdLora.presetId === `${prevMotion.id}-lora`) next = { ...next, sdLora: { mode: 'none' } };
    }
    setModels(next);
  };

  return { models, changeModels };
}
