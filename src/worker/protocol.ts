// The typed message protocol between the UI thread and the generation worker.
// The UI sends `ToWorker` messages and receives `FromWorker` messages; nothing else crosses the boundary.
// Every request carries an `id`; every reply about it echoes the id, so a late message from a cancelled
// run can be told apart from the current one.

import type { ErrorKind } from '../errors';
import type { Precision, PrecisionSetting } from '../pipeline/precision';
import type { DownloadProgress } from '../delivery/progress';
import type { StorageReport } from '../delivery/cache';

export type { DownloadProgress, StorageReport };

/** Where the bytes of one weight/tokenizer/config file come from. */
export type FileSource =
  /** A download; `sha256` (lower-case hex) is the expected content hash where the catalogue knows it. */
  | { kind: 'url'; url: string; name: string; sha256?: string }
  /** A local file (picked or dropped); File is structured-cloneable, so it crosses to the worker without a copy. */
  | { kind: 'file'; file: File; name: string }
  /**
   * A Hugging Face repository (or one folder of it): the worker lists it and picks the model's files the way
   * diffusers does (src/delivery/pick.ts), with their config.json files.
   */
  | { kind: 'hub-repo'; repo: string; revision?: string; subfolder?: string; name: string };

/** The models of one generation. Each list holds one or more files; the loaders detect which layout each file is. */
export interface ModelSelection {
  /** The SD1.5 base: either one single-file checkpoint or the diffusers component files (unet, vae, text encoder). */
  base: FileSource[];
  /**
   * config.json files of the components (diffusers UNet/VAE/MotionAdapter, transformers CLIPTextModel), told apart
   * by their content; they give what the weights' shapes cannot (attention heads, norm groups). SD1.5 values otherwise.
   */
  configs: FileSource[];
  /** The CLIP tokenizer (tokenizer.json). */
  tokenizer: FileSource;
  /** The AnimateDiff motion module (original layout or diffusers MotionAdapter). */
  motion: FileSource[];
  /** Optional LoRAs, merged into the weights at load with the given strength. */
  motionLora?: { source: FileSource; strength: number };
  sdLora?: { source: FileSource; strength: number };
}

/**
 * One generation is a GenerationSpec (src/pipeline/spec.ts): the same seed, spec and models give bit-identical frames
 * on the same adapter and precision, close ones elsewhere (docs/pipeline.md). The worker reads it with parseSpec, so a
 * message from an older page is migrated or refused by field.
 */
import type { GenerationSpec } from '../pipeline/spec';
export type { GenerationSpec, SchedulerName } from '../pipeline/spec';

/** The two-part precision (activations f32/f16, weights f32/f16/int8/int4; each may be 'auto'): src/pipeline/precision.ts. */
export type { Precision, PrecisionSetting };

/** What the worker found out about this browser's WebGPU. */
export interface Capabilities {
  webgpu: boolean;
  /** Set when there is an adapter. */
  adapter?: {
    name: string;
    f16: boolean;
    isFallback: boolean;
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
  /** navigator.deviceMemory (GiB, rounded down by the browser), when the browser tells. */
  deviceMemoryGiB?: number;
  /** Why WebGPU cannot be used, when it cannot. */
  problem?: string;
}

/** The kinds of failure the UI distinguishes: the project's one error vocabulary (src/errors.ts). */
export type { ErrorKind };

export interface UserError {
  kind: ErrorKind;
  /** One sentence the user can read. */
  message: string;
  /** What to try next, when there is something to try. */
  suggestion?: string;
  /** The technical detail (file names, shapes, the original message) for a "details" disclosure. */
  detail?: string;
}

export type LoadPhase = 'download' | 'parse' | 'upload' | 'compile';

/** A change of the settings that the memory planner accepts for these models on this GPU (the UI offers it as one click). */
export interface PlanChange {
  /** What changes, in words: "384×384", "8 frames", "context windows of 8 frames", "f16 activations". */
  label: string;
  width?: number;
  height?: number;
  frames?: number;
  /** The context-window length (UNet-level windows). */
  contextLength?: number;
  precision?: PrecisionSetting;
  /** The planned GPU memory peak with the change. */
  peakBytes: number;
}

/** The memory planner's verdict on the current settings and models (src/worker/planning.ts), before anything is downloaded. */
export interface PlanVerdict {
  fits: boolean;
  /** The precision the run would use (when it fits: 'auto' resolved). */
  precision?: Precision;
  /** The planned GPU memory peak (weights + activations + text encoder), when it fits. */
  peakBytes?: number;
  /** The adapter's limits the plan was made against. */
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  /** Why it does not fit: the planner's figure against the adapter's. */
  reason?: string;
  /** The nearest setting that fits, when it does not. */
  suggestion?: PlanChange;
  /** A smaller setting is still being searched for: another verdict for the same request follows. */
  searching?: boolean;
}

// ------------------------------------------------------------------ UI → worker

export type ToWorker =
  /**
   * `hub` points Hub repo sources at another origin (tests: a local imitation of the Hub; localhost only).
   * `maxBindingBytes` lowers the storage-binding limit below the adapter's, for the engine and the memory planner
   * alike (a smaller GPU, simulated: the e2e tests of the planner's refusals).
   */
  | { type: 'init'; hub?: string; maxBindingBytes?: number }
  /** The model cache: a report of what is stored, or deleting one model (a report group) or all. Answered at once. */
  | { type: 'storage'; op: 'report' | 'delete' | 'delete-all'; group?: string }
  /**
   * Generate with these models; the worker (re)loads them first when `modelsKey` differs from what it holds
   * (or its engine had to be rebuilt), reporting load-progress/loaded under the same id.
   */
  | { type: 'generate'; id: number; models: ModelSelection; modelsKey: string; precision: PrecisionSetting; spec: GenerationSpec }
  /**
   * The memory planner's verdict on these settings and models, without generating (nothing is downloaded: the
   * weight files' headers are read by HTTP Range). Only the latest plan request is answered; a newer one, or a
   * generate, supersedes it. Queued behind a running generation, never beside it.
   */
  | { type: 'plan'; id: number; models: ModelSelection; modelsKey: string; precision: PrecisionSetting; spec: GenerationSpec }
  /** Cancels request `id`, running or still queued. */
  | { type: 'cancel'; id: number };

// ------------------------------------------------------------------ worker → UI

export type FromWorker =
  | { type: 'capabilities'; caps: Capabilities }
  | { type: 'load-progress'; id: number; phase: LoadPhase; file?: string; loaded: number; total: number }
  /** Downloads into the model cache: bytes per file and overall, speed, time left. */
  | { type: 'download-progress'; id: number; progress: DownloadProgress }
  /** The model cache's contents and the browser's storage usage; `error` when the operation failed. */
  | { type: 'storage'; report: StorageReport & { available: boolean; persisted: boolean | null }; error?: UserError }
  | { type: 'loaded'; id: number; summary: ModelSummary }
  /** The models are ready and sampling begins (the prompt is encoded, then step 1 runs). */
  | { type: 'sampling'; id: number; steps: number }
  /** The prompt is encoded: step 1 runs now. */
  | { type: 'encoded'; id: number }
  /** After a step: `step` of `steps` in FreeInit iteration `iteration` of `iterations` (src/pipeline StepInfo). */
  | { type: 'progress'; id: number; step: number; steps: number; iteration: number; iterations: number; iterationSteps: number[]; elapsedMs: number; etaMs: number }
  /** With context windows: window `window` of `windows` of step `step` of iteration `iteration` (1-based; the step being computed) is done. */
  | { type: 'window'; id: number; iteration: number; step: number; steps: number; window: number; windows: number }
  /** Predicted x0 of the latest step, decoded cheaply; frames are RGBA, row-major, width × height. */
  | { type: 'preview'; id: number; step: number; frames: Uint8ClampedArray[]; width: number; height: number }
  /** One final frame, RGBA, as the VAE decodes it. */
  | { type: 'frame'; id: number; index: number; frames: number; rgba: Uint8ClampedArray; width: number; height: number }
  /**
   * `memory`: the engine's tracked GPU memory peak of the run (weights + activations, every buffer it allocated) and
   * the memory planner's prediction of it (src/plan).
   */
  | { type: 'done'; id: number; elapsedMs: number; memory?: { peakBytes: number; plannedBytes: number } }
  /** `afterStep` sampling steps of `steps` had finished when the run stopped (0 when it stopped while loading). */
  | { type: 'cancelled'; id: number; afterStep: number; steps: number }
  | { type: 'error'; id: number | null; error: UserError }
  /** The answer to a plan request: its verdict, or why there is none (models that cannot be read, invalid settings). */
  | { type: 'plan'; id: number; verdict?: PlanVerdict; error?: UserError };

export interface ModelSummary {
  /** The precision the models were loaded in (activations = the engine's dtype; weights = the UNet's GEMM weights). */
  precision: Precision;
  /** A line per loaded component, e.g. "UNet (diffusers, 1.7 GB)". */
  components: string[];
  adapter: string;
  loadMs: number;
  /** Non-fatal findings of the loaders (unknown tensors skipped, LoRA targets missing from the model). */
  warnings: string[];
}

/** The transferable buffers of a message, so large frames move instead of being copied. */
export function transferablesOf(msg: FromWorker): Transferable[] {
  switch (msg.type) {
    case 'preview':
      return msg.frames.map((f) => f.buffer as ArrayBuffer);
    case 'frame':
      return [msg.rgba.buffer as ArrayBuffer];
    default:
      return [];
  }
}
