// Maps the project's typed errors to what the user reads. Switches on error classes and codes, never on text.

import {
  DeviceLostError, GpuCapabilityError, GpuOutOfMemoryError, GpuUnavailableError, GpuValidationError, ShaderCompileError,
} from '../gpu/errors';
import { ModelWeightsError } from '../models/layers';
import { VaeWeightError } from '../models/vae-decoder';
import { GenerateRequestError } from '../pipeline/errors';
import { WeightFileError } from '../weights/errors';
import type { UserError } from './protocol';
import { InvalidSettingsError } from './settings';



const SMALLER = 'Try a smaller size (256×256 or 384×384), fewer frames, or close other tabs that use the GPU.';

function describeWeightError(e: WeightFileError): UserError {
  const detail = e.message;
  switch (e.code) {
    case 'io':
      return { kind: 'network', message: `Could not read ${e.file}.`, suggestion: 'Check the URL and your connection, or download the file and open it from disk.', detail };
    case 'no-range':
      return { kind: 'network', message: `The server of ${e.file} does not support partial downloads (HTTP Range).`, suggestion: 'Download the file and open it from disk instead.', detail };
    case 'pickle':
      return { kind: 'bad-model-file', message: `${e.file} is a PyTorch pickle (.ckpt/.pt/.bin); only .safetensors files are opened, because pickles can run code.`, suggestion: 'Use the .safetensors version of this model.', detail };
    case 'not-safetensors':
      return { kind: 'bad-model-file', message: `${e.file} is not a .safetensors file; only .safetensors files are opened (.ckpt/.pt/.bin are PyTorch pickles, which can run code).`, suggestion: 'Use the .safetensors version of this model.', detail };
    case 'unknown-layout':
    case 'wrong-architecture':
      return { kind: 'bad-model-file', message: `${e.file} is not a model this app can use here (not an SD1.5 / AnimateDiff file of the expected kind).`, suggestion: 'Check that the file goes in this slot: base model, motion module or LoRA.', detail };
    case 'missing-keys':
    case 'shape-mismatch':
    case 'lora-mismatch':
    case 'duplicate':
      return { kind: 'bad-model-file', message: `${e.file} does not match the rest of the model.`, suggestion: 'Use files made for Stable Diffusion 1.5 and the chosen motion module.', detail };
    default:
      return { kind: 'bad-model-file', message: `${e.file} is not a valid .safetensors file (it is corrupt or truncated).`, suggestion: 'Download the file again, or pick another one.', detail };
  }
}

/** The user-facing description of any error thrown while loading or generating. */
export function describeError(e: unknown): UserError {
  if (e instanceof WeightFileError) return describeWeightError(e);
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (e instanceof GpuUnavailableError) {
    return { kind: 'no-webgpu', message: e.message, suggestion: 'Use a recent Chrome or Edge (or Safari 26+) with hardware acceleration turned on.', detail };
  }
  if (e instanceof GpuOutOfMemoryError) {
    return { kind: 'out-of-memory', message: 'The GPU ran out of memory.', suggestion: SMALLER, detail };
  }
  if (e instanceof DeviceLostError) {
    return { kind: 'device-lost', message: 'The GPU device was lost (a driver reset, or the system reclaimed GPU memory).', suggestion: `Press Generate to start again on a fresh device. ${SMALLER}`, detail };
  }
  if (e instanceof GpuCapabilityError) {
    return { kind: 'capability', message: e.message, suggestion: 'Try f32 precision, a smaller size or fewer frames.', detail };
  }
  if (e instanceof InvalidSettingsError) return { kind: 'invalid-settings', message: e.message, detail };
  if (e instanceof GenerateRequestError) return { kind: 'invalid-settings', message: `These settings cannot run: ${e.message}.`, detail };
  if (e instanceof ModelWeightsError || e instanceof VaeWeightError) {
    return { kind: 'bad-model-file', message: 'A model file does not have the weights this model needs.', suggestion: 'Check that each file is in the right slot and made for Stable Diffusion 1.5.', detail };
  }
  if (e instanceof ShaderCompileError || e instanceof GpuValidationError) {
    return { kind: 'internal', message: 'The GPU rejected a computation; this is a bug in AnimateDiff Web.', suggestion: 'Please report it with the details below. Generate again to retry on a fresh device.', detail };
  }
  if (e instanceof Error && e.name === 'QuotaExceededError') {
    return { kind: 'out-of-memory', message: 'The browser ran out of memory or storage.', suggestion: SMALLER, detail };
  }
  return { kind: 'internal', message: 'Something went wrong.', suggestion: 'Generate again; if it keeps failing, please report it with the details below.', detail };
}

/** Whether the engine that raised `e` must be thrown away and rebuilt before the next request. */
export function needsFreshEngine(e: unknown): boolean {
  return e instanceof DeviceLostError || e instanceof GpuOutOfMemoryError || e instanceof GpuValidationError ||
    e instanceof ShaderCompileError;
}
