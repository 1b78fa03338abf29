// What the worker refuses about a request beyond the spec itself (the spec's own ranges are parseSpec's, in
// src/pipeline/spec.ts; what depends on the loaded models is generate()'s).

import { KindedError } from '../errors';

/** A request the worker refuses before touching the GPU (the message names what is wrong). */
export class InvalidSettingsError extends KindedError {
  constructor(message: string) {
    super('invalid-settings', message);
  }
}
