// The project's one error vocabulary. Every error class of every layer (weights, models, pipeline, GPU engine,
// settings, model sources) is a KindedError with one of these kinds; the worker turns kinds into the words the user
// reads (src/worker/errors.ts) without knowing the classes, and the kind crosses the worker protocol unchanged.
// This module depends on nothing, so any layer can import it.

export const ERROR_KINDS = [
  'no-webgpu', // no navigator.gpu or no adapter
  'capability', // the adapter lacks a feature or limit the work needs
  'out-of-memory', // GPU (or browser) memory ran out
  'device-lost', // the GPU device was lost: a fresh one is needed
  'gpu-bug', // a WebGPU validation or shader compile error: a bug in this project
  'network', // a download failed (offline, CORS, HTTP status, no Range support, a sha256 mismatch)
  'storage', // the browser's storage for the model cache is full or unavailable
  'not-safetensors', // a PyTorch pickle, or another format than safetensors
  'corrupt-file', // a safetensors file that breaks the format (truncated, bad header)
  'wrong-model', // a readable file of another kind or architecture than the slot needs
  'model-mismatch', // files whose tensors or shapes do not fit each other (missing, mismatched, duplicate)
  'unsupported-model', // a model recognised but not supported yet (an inpainting UNet, …)
  'bad-values', // weights with NaN, ±Inf or absurdly large values
  'invalid-source', // a model source that is not a https URL, a Hub repo or a file
  'invalid-settings', // settings outside what the models and schedulers allow
  'cancelled', // stopped by the user
  'internal', // anything else: a bug in this project
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** An error that says what kind of failure it is, and, where one is concerned, which file. */
export class KindedError extends Error {
  readonly file?: string;
  /** The HTTP status of a failed download. */
  readonly httpStatus?: number;

  constructor(readonly kind: ErrorKind, message: string, options: { cause?: unknown; file?: string; httpStatus?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.file !== undefined) this.file = options.file;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }
}

/** What the worker needs to know of any thrown value to describe it. */
export interface ErrorFacts {
  kind: ErrorKind;
  /** The error's class name (or DOMException name). */
  name: string;
  /** The error's own message (file name included where it has one). */
  message: string;
  /** `name: message`, for the "details" disclosure. */
  detail: string;
  file?: string;
  httpStatus?: number;
  /** A finer code where the class has one (WeightFileError's `code`). */
  code?: string;
}

const KINDS = new Set<string>(ERROR_KINDS);

/** The facts of any thrown value: a KindedError's own, DOM aborts as `cancelled`, storage quota as `out-of-memory`. */
export function factsOf(e: unknown): ErrorFacts {
  const err = e instanceof Error ? e : null;
  const message = err ? err.message : String(e);
  const detail = err ? `${err.name}: ${err.message}` : message;
  const own = (k: string): unknown => (typeof e === 'object' && e !== null ? (e as Record<string, unknown>)[k] : undefined);
  const kindField = own('kind');
  let kind: ErrorKind = typeof kindField === 'string' && KINDS.has(kindField) ? (kindField as ErrorKind) : 'internal';
  if (kind === 'internal' && err?.name === 'AbortError') kind = 'cancelled';
  if (kind === 'internal' && err?.name === 'QuotaExceededError') kind = 'out-of-memory';
  const file = own('file'), status = own('httpStatus'), code = own('code');
  return {
    kind, name: err?.name ?? typeof e, message, detail,
    ...(typeof file === 'string' ? { file } : {}),
    ...(typeof status === 'number' ? { httpStatus: status } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}
