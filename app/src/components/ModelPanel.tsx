import { basePreset, type ModelChoice, motionPreset, SD_LORA_PRESETS } from '../model-choice';
import { BASE_PRESETS, MOTION_LORA_PRESETS, MOTION_PRESETS } from '../presets';
import { SourcePicker } from './SourcePicker';

export interface ModelPanelProps {
  value: ModelChoice;
  onChange(v: ModelChoice): void;
  disabled: boolean;
}

/** The four model slots: base model, motion module, MotionLoRA, SD LoRA. */
export function ModelPanel({ value, onChange, disabled }: ModelPanelProps) {
  const bp = basePreset(value);
  const mp = motionPreset(value);
  const mismatch = bp && mp && bp.family !== mp.family;
  return (
    <fieldset className="panel" disabled={disabled}>
      <legend>Models</legend>
      <SourcePicker
        label="Base model"
        presets={BASE_PRESETS}
        value={value.base}
        onChange={(base) => onChange({ ...value, base })}
        multiple
        note={bp?.note ?? 'An SD 1.5 model: a single-file .safetensors checkpoint, a diffusers folder (unet/, vae/ and text_encoder/ with their config.json, picked as a folder or as several files), or a Hugging Face repo (owner/name).'}
      />
      <SourcePicker
        label="Motion module"
        presets={MOTION_PRESETS}
        value={value.motion}
        onChange={(motion) => onChange({ ...value, motion })}
        note={mp?.note ?? 'An AnimateDiff motion module (.safetensors, original or diffusers layout).'}
      />
      {mismatch && <p className="warn" role="note">The tiny test model only works with the tiny test motion module, and the other way round.</p>}
      <SourcePicker
        label="MotionLoRA"
        presets={MOTION_LORA_PRESETS}
        allowNone
        value={value.motionLora}
        onChange={(motionLora) => onChange({ ...value, motionLora })}
        strength={{ value: value.motionLoraStrength, onChange: (v) => onChange({ ...value, motionLoraStrength: v }) }}
        note={value.motionLora.mode !== 'none' && mp && !mp.motionLoraCompatible ? 'MotionLoRAs were trained for the v2 motion module (and Lightning); with this one they may have little effect.' : undefined}
      />
      <SourcePicker
        label="SD LoRA"
        presets={SD_LORA_PRESETS}
        allowNone
        value={value.sdLora}
        onChange={(sdLora) => onChange({ ...value, sdLora })}
        strength={{ value: value.sdLoraStrength, onChange: (v) => onChange({ ...value, sdLoraStrength: v }) }}
      />
    </fieldset>
  );
}
