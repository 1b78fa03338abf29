// Typed errors of the weight loaders. Every rejection names the file, what was expected and what was found;
// callers (the worker, the UI) switch on `code`, never on message text.

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
  | 'lora-mismatch'; // a LoRA that targets tensors the base model does not have (or with other shapes)

export class WeightFileError extends Error {
  constructor(
    readonly code: WeightFileErrorCode,
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'WeightFileError';
  }
}

/** Shorten a list of names for a message: the first few, then "… and N more". */
export function listSome(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).map((n) => previewName(n)).join(', ');
  return names.length <= max ? shown : `${shown} … and ${names.length - max} more`;
}
