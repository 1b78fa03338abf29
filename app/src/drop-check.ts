// A file dropped on the page is looked at before it becomes the base model: a PyTorch pickle (.ckpt/.pt/.bin) or
// anything else that is not a safetensors file is refused at once, with the message the loader would give later.

import { describeError } from '../../src/worker/errors';
import type { UserError } from '../../src/worker/protocol';
import { WeightFileError } from '../../src/weights/errors';
import { looksLikePickle, looksLikeSafetensors, SNIFF_BYTES } from '../../src/weights/safetensors';

/** Null when the first bytes can start a safetensors file; otherwise why the file is refused. */
export function refuseDropped(name: string, head: Uint8Array): UserError | null {
  if (looksLikeSafetensors(head)) return null;
  if (looksLikePickle(head)) return describeError(new WeightFileError('pickle', name, 'this file is a PyTorch pickle (zip or pickle stream), refused when dropped'));
  return describeError(new WeightFileError('not-safetensors', name, 'its first bytes are not a safetensors header, refused when dropped'));
}

/** The first bytes of a dropped file, as the loader sniffs them. */
export async function headOf(file: Blob): Promise<Uint8Array> {
  return new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
}
