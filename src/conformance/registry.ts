// The conformance harness's contract with the per-set runners (src/conformance/sets/*.ts).
//
// A vector folder (format: ../shared/oracle/README.md) is run once per weight layout present in it
// and once per semantics its outputs need. For each (layout, semantics) the harness calls `runner.run(ctx)`
// and compares every returned tensor that exists in outputs.safetensors and whose `output_semantics` entry is
// that semantics or "both", against the `_f64` twin where present (else the f32 reference), at the
// tolerance of `recommended_tolerance_f32` (see compare.ts).
import type { Engine } from '../gpu/engine';
import type { ByteSource } from '../weights/source';
import type { WeightMap } from '../weights/weight-map';
import type { RefTensor } from './tensor-file';

/** Which motion-module GroupNorm a run uses (README "Two semantics"). */
export type Semantics = 'diffusers' | 'official_animatediff';

/** A vector folder's config.json (only `set` is common to all; the rest is per set). */
export type VectorConfig = Record<string, any> & { set?: string };

/**
 * Lazy canonical weights, as the project's loaders (src/weights) produce them: diffusers UNetMotionModel names
 * for UNet + motion modules, diffusers AutoencoderKL for the VAE, transformers `text_model.*` for CLIP.
 */
export type CanonicalWeights = WeightMap;

/** Access to files, injected so the harness core has no Node dependency. Paths are relative to the folder. */
export interface FolderReader {
  /** The folder as given (for messages). */
  readonly dir: string;
  exists(relPath: string): Promise<boolean>;
  read(relPath: string): Promise<Uint8Array>;
  /** Names of the files directly in the folder. */
  list(): Promise<string[]>;
  /** A random-access source for the weight loaders (src/weights). */
  source(relPath: string): Promise<ByteSource>;
  /** Release what `source` opened (file handles); called when the harness is done. */
  close?(): Promise<void>;
}

/** One way the folder's weights are stored: a label for the report and the weight files that make it up. */
export interface WeightLayout {
  /** e.g. "diffusers", "ldm", "original" — printed on every result line. */
  name: string;
  /** Paths relative to the folder (may point into a sibling folder: "../../unet_motion_tiny/vA/x.safetensors"). */
  files: string[];
}

export interface RunContext {
  dir: string;
  config: VectorConfig;
  /** inputs.safetensors, parsed (empty map for sets without one, e.g. clip_tokenizer). */
  inputs: Map<string, RefTensor>;
  /**
   * The reference outputs. Only for replaying randomness the reference recorded (LCM's injected noise
   * `<run>.lcm_noise{i}`), never for producing a compared output.
   */
  references: Map<string, RefTensor>;
  /** Names in outputs.safetensors that this run must produce (those of this semantics or "both"). */
  wanted: string[];
  engine: Engine;
  files: FolderReader;
  /** Load weight files of the current layout through the project's loaders, as one canonical map. */
  loadWeights(files: string[]): Promise<CanonicalWeights>;
  layout: WeightLayout;
  semantics: Semantics;
}

/** Produced tensors by output name; integer outputs (token ids) as Int32Array and compared exactly. */
export type RunOutputs = Map<string, Float32Array | Float64Array | Int32Array>;

export interface SetRunner {
  /** The set name as in config.json `set` and the folder path (`vectors/<set>/<variant>`). */
  name: string;
  /** Whether this runner handles the folder (normally `config.set === name`). */
  matches(config: VectorConfig, dir: string): boolean;
  /**
   * The weight layouts present in the folder; the harness runs once per layout. A set without weights returns
   * one layout with no files. Missing files must throw with a clear message.
   */
  layouts(config: VectorConfig, files: FolderReader): Promise<WeightLayout[]>;
  /** Compute the outputs. Must release every GPU tensor it allocated before resolving or rejecting. */
  run(ctx: RunContext): Promise<RunOutputs>;
  /**
   * Names this runner does not compute (e.g. float32 intermediates it has no hook for): listed as
   * "not compared" in the report, never counted as passed. Every output with a tolerance entry must be produced.
   */
  notProduced?(config: VectorConfig): RegExp[];
  /**
   * Reference outputs for folders that have no outputs.safetensors (clip_tokenizer keeps them in a JSON file).
   * Default: outputs.safetensors with config.output_semantics.
   */
  references?(config: VectorConfig, files: FolderReader): Promise<{ outputs: Map<string, RefTensor>; semantics?: Record<string, string> }>;
  /** Whether the set has an inputs.safetensors (default true). */
  hasInputs?: boolean;
  /**
   * True when `run` depends on a layout only through the weights it computes with: `layoutWeights` (default: the
   * canonical map `loadWeights(layout.files)`, no other per-layout file). Then a layout whose weights are
   * bit-identical to an earlier layout's is not run again: its outputs are the same deterministic function of the
   * same weights and inputs. The identity is checked tensor by tensor through the real loaders and reported as a
   * line of its own.
   */
  outputsDependOnlyOnCanonicalWeights?: boolean;
  /**
   * Every weight a run of `layout` computes with, as one map (e.g. a base model with a LoRA merged at each scale the
   * outputs name), for the identity check above. Default: `load(layout.files)`.
   */
  layoutWeights?(layout: WeightLayout, load: (files: string[]) => Promise<CanonicalWeights>, files: FolderReader, outputNames: string[]): Promise<CanonicalWeights>;
}

/**
 * Runner modules live in src/conformance/sets/<set>.ts and export `runner: SetRunner`; the harness finds them
 * with import.meta.glob, so a new set needs no edit here.
 */
export interface RunnerModule {
  runner: SetRunner;
}

/** Layouts from the files that exist among `candidates` (label -> files); throws when none exists. */
export async function layoutsPresent(files: FolderReader, candidates: WeightLayout[], what: string): Promise<WeightLayout[]> {
  const present: WeightLayout[] = [];
  for (const c of candidates) {
    const ok = await Promise.all(c.files.map((f) => files.exists(f)));
    if (ok.every(Boolean)) present.push(c);
  }
  if (!present.length) {
    throw new ConformanceError(`${files.dir}: no ${what} weight files found (looked for ${candidates.map((c) => c.files.join(' + ')).join(' or ')})`);
  }
  return present;
}

/** A folder the harness cannot run (unknown set, missing or malformed files). */
export class ConformanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceError';
  }
}
