// Typed errors of the GPU engine. Each carries a message a user can act on; callers
// (the pipeline, the worker) switch on the class, never on message text.

import { type ErrorKind, KindedError } from '../errors';

export abstract class EngineError extends KindedError {
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
}

/** No WebGPU at all, or no adapter: the page cannot run models on this browser/machine. */
export class GpuUnavailableError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) { super('no-webgpu', message, options); }
}

/** The adapter lacks a limit or feature the requested work needs. */
export class GpuCapabilityError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) { super('capability', message, options); }
}

/** The device was lost (driver reset, tab backgrounded too long, GPU removed, destroy()). Rebuild the engine. */
export class DeviceLostError extends EngineError {
  constructor(readonly reason: string, message: string) {
    super('device-lost', `GPU device lost (${reason}): ${message || 'no detail'}. The engine must be recreated.`);
  }
}

/** The GPU ran out of memory: fewer frames, a smaller size or lower precision would fit. */
export class GpuOutOfMemoryError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) { super('out-of-memory', message, options); }
}

/** A WebGPU validation error: a bug in this project (or an over-limit shape), never the user's fault. */
export class GpuValidationError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) { super('gpu-bug', message, options); }
}

/** WGSL that does not compile on this device. */
export class ShaderCompileError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) { super('gpu-bug', message, options); }
}

/** GPU work that was recorded but never submitted, because the caller abandoned it (a cancelled generation). */
export class GpuWorkAbandonedError extends EngineError {
  constructor(message = 'the queued GPU work was abandoned (cancelled)') { super('cancelled', message); }
}
