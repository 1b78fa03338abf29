import { KindedError } from '../errors';

/** A generation stopped by its AbortSignal. `name` is 'AbortError', as DOM aborts, so generic handlers work too. */
export class GenerationCancelledError extends KindedError {
  constructor(readonly stage: 'denoising' | 'decoding', readonly step?: number) {
    super('cancelled', `generation cancelled during ${stage}${step !== undefined ? ` (before step ${step + 1})` : ''}`);
    this.name = 'AbortError';
  }
}

/** A request the pipeline cannot run (sizes, missing models or embeddings); names the field. */
export class GenerateRequestError extends KindedError {
  /** Tells the worker the message is a fragment about the request ("width 500 must be …"), not a sentence. */
  readonly code = 'request';

  constructor(message: string) {
    super('invalid-settings', message);
  }
}
