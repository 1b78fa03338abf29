// Typed errors of the weight loaders. Every rejection names the file, what was expected and what was found;
// callers (the worker, the UI) switch on `code`, never on message text.

import { type ErrorKind, KindedError } from '../errors';
import { previewName } from '../util/json-preview';

export type WeightFileErrorCode =
  | 'io' // the bytes could not be read (network, HTTP status, permissions)
  | 'no-range' // an HTTP server that ignores Range requests
  | 'truncated' // the file ends before its header or data says it should
  | 'header-too-large'
  | 'bad-json'
  | 'bad-dtype'
  | 'bad-shape'
  | 'bad-offsets'
  | 'overlap'
  | 'size-mismatch'
  | 'pickle' // a PyTorch pickle (.ckpt/.pt/.bin): refused, never unpickled
  | 'not-safetensors' // named like a PyTorch checkpoint (.ckpt/.pt/.bin) and holding neither safetensors nor a pickle
  | 'unknown-layout'
  | 'wrong-architecture'
  | 'missing-keys'
  | 'shape-mismatch'
  | 'duplicate' // two files provide the same component or tensor
  | 'lora-mismatch' // a LoRA that targets tensors the base model does not have (or with other shapes)
  | 'unsupported-model' // a model of a kind recognised but not supported yet (an inpainting UNet, …)
  | 'non-finite'; // NaN, ±Inf or absurdly large values in a tensor

/** The shared error kind of each code (src/errors.ts). */
const KIND_OF_CODE: Record<WeightFileErrorCode, ErrorKind> = {
  io: 'network', 'no-range': 'network',
  pickle: 'not-safetensors', 'not-safetensors': 'not-safetensors',
  truncated: 'corrupt-file', 'header-too-large': 'corrupt-file', 'bad-json': 'corrupt-file', 'bad-dtype': 'corrupt-file',
  'bad-shape': 'corrupt-file', 'bad-offsets': 'corrupt-file', overlap: 'corrupt-file', 'size-mismatch': 'corrupt-file',
  'unknown-layout': 'wrong-model', 'wrong-architecture': 'wrong-model',
  'missing-keys': 'model-mismatch', 'shape-mismatch': 'model-mismatch', duplicate: 'model-mismatch', 'lora-mismatch': 'model-mismatch',
  'unsupported-model': 'unsupported-model',
  'non-finite': 'bad-values',
};

export class WeightFileError extends KindedError {
  declare readonly file: string;

  constructor(
    readonly code: WeightFileErrorCode,
    file: string,
    message: string,
    options?: { cause?: unknown; httpStatus?: number },
  ) {
    super(KIND_OF_CODE[code], `${file}: ${message}`, { ...options, file });
  }
}

/** Shorten a list of names for a message: the first few, then "… and N more". */
export function listSome(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).map((n) => previewName(n)).join(', ');
  return names.length <= max ? shown : `${shown} … and ${names.length - max} more`;
}
