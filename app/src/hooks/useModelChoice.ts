// The four model slots, and what changing them does to the form: base and motion stay in one family, the base's
// default size and the motion module's recommended scheduler/steps/guidance (and companion LoRA) follow the choice.

import { useEffect, useState } from 'react';
import type { FormState } from '../form';
import type { SlotChoice } from '../components/SourcePicker';
import { type ModelChoice, motionPreset, parseStoredChoice, storableChoice } from '../model-choice';
import { BASE_PRESETS } from '../presets';

export const INITIAL_MODELS: ModelChoice = {
  base: { mode: 'preset', presetId: 'sd15' },
  motion: { mode: 'preset', presetId: 'v2' },
  motionLora: { mode: 'none' },
  motionLoraStrength: 0.8,
  sdLora: { mode: 'none' },
  sdLoraStrength: 0.8,
};

/** localStorage key of the last model choice (checked by parseStoredChoice when read). */
export const MODELS_STORAGE_KEY = 'animatediff-web.models';

function readStored(): ModelChoice | null {
  try {
    const raw = localStorage.getItem(MODELS_STORAGE_KEY);
    return raw === null ? null : parseStoredChoice(JSON.parse(raw), INITIAL_MODELS);
  } catch {
    return null; // unreadable storage or JSON: the defaults
  }
}

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

  // The last choice comes back after a reload (with the form defaults it implies), and every change is remembered.
  useEffect(() => {
    const stored = readStored();
    if (stored) changeModels(stored);
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- once, on mount
  useEffect(() => {
    if (models === INITIAL_MODELS) return; // nothing chosen yet (and the stored choice not read back yet)
    try {
      localStorage.setItem(MODELS_STORAGE_KEY, JSON.stringify(storableChoice(models)));
    } catch {
      // storage full or disabled: the choice is simply not remembered
    }
  }, [models]);

  return { models, changeModels };
}
