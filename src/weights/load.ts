// Layout detection and loading: files in, one lazy WeightMap per model out, under canonical names, checked
// against the shapes the canonical SD1.5-topology models expect (config read off the weights themselves).

import { WeightFileError, listSome } from './errors';
import {
  MissingForConfig, expectedMotionShapes, expectedTextShapes, expectedUnetShapes, expectedVaeShapes, addMotionModule,
  inferMotionConfig, inferTextConfig, inferUnetConfig, inferVaeConfig,
  type MotionConfig, type ShapeTable, type TextConfig, type UnetConfig, type VaeConfig,
} from './layouts/expected';
import { checkComponentsFit } from './consistency';
import { isLoraKey, mapFile, type Component, type FileMapping, type TensorSource } from './layouts/map';
import { detectMotionVersion, type MotionModuleInfo, type MotionVersion } from './layouts/motion';
import { mergeLora, parseLora, type LoraFile } from './lora';
import type { SafetensorsFile } from './safetensors';
import { isFloatDtype } from './dtype';
import { tableWeightMap, type WeightMap } from './weight-map';

export type WeightKind = 'sd15-single' | 'unet' | 'vae' | 'text-encoder' | 'motion-module' | 'motion-lora' | 'sd-lora';

export interface DetectedLayout {
  kind: WeightKind;
  /** Source key layout: 'ldm' | 'diffusers' | 'original' | 'transformers' | LoRA layouts ('kohya', 'peft', …). */
  layout: string;
  /** Models this file provides (sd15-single: some of unet/vae/text; a UNetMotionModel file: unet + motion). */
  components: Component[];
  /** For motion modules: version and GroupNorm semantics. */
  motion?: MotionModuleInfo;
}

const KIND_OF: Record<Component, WeightKind> = { unet: 'unet', motion: 'motion-module', vae: 'vae', text: 'text-encoder' };

function describe(file: SafetensorsFile, mapping: FileMapping, motionVersion?: MotionVersion): DetectedLayout {
  const components = (Object.keys(mapping.components) as Component[]).filter((c) => mapping.components[c]!.size > 0);
  const ldmSingle = [...file.tensors.keys()].some((k) => /^(model\.diffusion_model|first_stage_model|cond_stage_model)\./.test(k));
  const kind: WeightKind = ldmSingle ? 'sd15-single' : components.includes('unet') ? 'unet' : KIND_OF[components[0]];
  const layout = mapping.layouts[components.includes('unet') ? 'unet' : components[0]]!;
  const out: DetectedLayout = { kind, layout, components };
  if (mapping.components.motion) {
    const shapes = new Map([...mapping.components.motion].map(([k, t]) => [k, t.shape] as const));
    out.motion = detectMotionVersion(shapes, file.name, motionVersion);
  }
  return out;
}

/** Which kind of weight file this is and in which key layout (throws a typed error for unknown/foreign files). */
export async function detectLayout(file: SafetensorsFile, options: { motionVersion?: MotionVersion } = {}): Promise<DetectedLayout> {
  const keys = [...file.tensors.keys()];
  if (keys.length > 0 && keys.filter(isLoraKey).length >= keys.length / 2) {
    // kohya names can only be resolved against a loaded base model; their kind is known from the prefix.
    if (keys.some((k) => /^lora_(unet|te\d?)_/.test(k))) {
      const motion = keys.every((k) => !/^lora_unet_/.test(k) || /motion_modules/.test(k));
      return { kind: motion && keys.some((k) => /motion_modules/.test(k)) ? 'motion-lora' : 'sd-lora', layout: 'kohya', components: [] };
    }
    const lora = await parseLora(file);
    return { kind: lora.kind, layout: lora.layout, components: [] };
  }
  return describe(file, mapFile(file), options.motionVersion);
}

export interface LoraRequest {
  file: SafetensorsFile;
  /** Multiplier of up@down (MotionLoRA cards suggest 0.7–1.0). */
  strength: number;
}

export interface LoadOptions {
  /** Overrides the detected motion-module version (v1/v3 and v2/Lightning/LCM share keys; see docs/weights.md). */
  motionVersion?: MotionVersion;
  loras?: LoraRequest[];
}

export interface LoadedWeights {
  /** UNet + motion modules under diffusers UNetMotionModel names (either part may be absent). */
  unet?: WeightMap;
  vae?: WeightMap;
  textEncoder?: WeightMap;
  unetConfig?: UnetConfig;
  motionConfig?: MotionConfig;
  vaeConfig?: VaeConfig;
  textConfig?: TextConfig;
  motion?: MotionModuleInfo;
  /** One entry per input file. */
  files: { name: string; detected: DetectedLayout }[];
  /** The file each component came from. */
  owners?: Partial<Record<Component, string>>;
  /** Non-fatal findings: unknown keys skipped, LoRA targets missing from the base, LoRA files passed as models. */
  warnings: string[];
}

/** Checks provided shapes against the expected table: missing keys, unexpected keys, shape mismatches, dtypes. */
export function checkAgainst(
  what: string, table: ReadonlyMap<string, TensorSource>, expected: ShapeTable, optional: (k: string) => boolean = () => false,
): void {
  const fileOf = (k?: string) => (k && table.get(k)?.file.name) || [...table.values()][0]?.file.name || what;
  const missing = [...expected.keys()].filter((k) => !table.has(k) && !optional(k));
  if (missing.length) {
    throw new WeightFileError('missing-keys', fileOf(), `the ${what} is incomplete: ${missing.length} expected tensors are missing: ${listSome(missing)}`);
  }
  const unexpected = [...table.keys()].filter((k) => !expected.has(k));
  if (unexpected.length) {
    throw new WeightFileError('unknown-layout', fileOf(unexpected[0]), `the ${what} has ${unexpected.length} tensors the SD1.5 topology does not have: ${listSome(unexpected)}`);
  }
  for (const [k, t] of table) {
    const e = expected.get(k)!;
    if (e.length !== t.shape.length || e.some((d, i) => d !== t.shape[i])) {
      throw new WeightFileError('shape-mismatch', t.file.name, `${what} weight "${k}" (stored as "${t.key}"): expected shape ${JSON.stringify(e)}, found ${JSON.stringify(t.shape)}`);
    }
    const dt = t.file.tensors.get(t.key)!.dtype;
    if (!isFloatDtype(dt)) throw new WeightFileError('bad-dtype', t.file.name, `${what} weight "${t.key}" is ${dt}; expected F32, F16, BF16 or F64`);
  }
}

function shapesOf(table: ReadonlyMap<string, TensorSource>): Map<string, readonly number[]> {
  return new Map([...table].map(([k, t]) => [k, t.shape] as const));
}

function withConfig<T>(what: string, table: ReadonlyMap<string, TensorSource>, infer: (s: Map<string, readonly number[]>) => T): T {
  try {
    return infer(shapesOf(table));
  } catch (e) {
    if (e instanceof MissingForConfig) {
      throw new WeightFileError('missing-keys', [...table.values()][0]?.file.name ?? what, `the ${what} is incomplete: "${e.key}" is missing`);
    }
    throw e;
  }
}

/** Expected shapes of a standalone motion module (keys without block prefix). */
function expectedSingleModule(table: ReadonlyMap<string, TensorSource>): ShapeTable {
  const c = table.get('proj_in.weight')?.shape[0];
  if (c === undefined) throw new WeightFileError('missing-keys', [...table.values()][0].file.name, 'the motion module is incomplete: "proj_in.weight" is missing');
  let layers = 0, pe: number | null = null;
  for (const [k, t] of table) {
    const m = /^transformer_blocks\.(\d+)\./.exec(k);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
    if (k.endsWith('pos_embed.pe')) pe = t.shape[1];
  }
  const t: ShapeTable = new Map();
  addMotionModule(t, '', c, layers, pe);
  return t;
}

/**
 * Loads base weights (SD1.5 single files, diffusers/LDM component files, motion modules in any supported layout)
 * and merges LoRAs. Reads only headers (and LoRA alphas); tensors are read when the returned maps are read.
 */
export async function loadWeights(files: readonly SafetensorsFile[], options: LoadOptions = {}): Promise<LoadedWeights> {
  const tables: Partial<Record<Component, Map<string, TensorSource>>> = {};
  const owner: Partial<Record<Component, string>> = {};
  const result: LoadedWeights = { files: [], warnings: [] };
  const loraRequests: LoraRequest[] = [...(options.loras ?? [])];

  for (const file of files) {
    const keys = [...file.tensors.keys()];
    if (keys.length > 0 && keys.filter(isLoraKey).length >= keys.length / 2) {
      loraRequests.push({ file, strength: 1 });
      result.warnings.push(`${file.name}: a LoRA file passed as a model; merged at strength 1`);
      continue;
    }
    const mapping = mapFile(file);
    result.files.push({ name: file.name, detected: describe(file, mapping, options.motionVersion) });
    if (mapping.unknown.length) result.warnings.push(`${file.name}: ${mapping.unknown.length} unrecognised tensors skipped: ${listSome(mapping.unknown)}`);
    for (const c of Object.keys(mapping.components) as Component[]) {
      if (tables[c]) {
        throw new WeightFileError('duplicate', file.name, `provides the ${c === 'text' ? 'text encoder' : c === 'motion' ? 'motion module' : c.toUpperCase()}, which ${owner[c]} already provides; load one of them`);
      }
      tables[c] = mapping.components[c]!;
      owner[c] = file.name;
    }
  }

  let unetTable: Map<string, TensorSource> | undefined;
  if (tables.unet) {
    result.unetConfig = withConfig('UNet', tables.unet, inferUnetConfig);
    checkAgainst('UNet', tables.unet, expectedUnetShapes(result.unetConfig));
    unetTable = new Map(tables.unet);
  }
  if (tables.motion) {
    const standalone = tables.motion.has('proj_in.weight');
    if (standalone) {
      checkAgainst('motion module', tables.motion, expectedSingleModule(tables.motion), (k) => k.endsWith('.pos_embed.pe'));
    } else {
      result.motionConfig = withConfig('motion module', tables.motion, inferMotionConfig);
      checkAgainst('motion module', tables.motion, expectedMotionShapes(result.motionConfig), (k) => k.endsWith('.pos_embed.pe'));
    }
    const motionFile = result.files.find((f) => f.name === owner.motion);
    result.motion = motionFile?.detected.motion;
    unetTable = new Map([...(unetTable ?? []), ...tables.motion]);
  }
  if (tables.vae) {
    result.vaeConfig = withConfig('VAE', tables.vae, inferVaeConfig);
    checkAgainst('VAE', tables.vae, expectedVaeShapes(result.vaeConfig));
  }
  if (tables.text) {
    result.textConfig = withConfig('text encoder', tables.text, inferTextConfig);
    checkAgainst('text encoder', tables.text, expectedTextShapes(result.textConfig));
  }

  checkComponentsFit(result, owner);
  result.owners = owner;

  if (unetTable) result.unet = tableWeightMap(unetTable, owner.unet ?? owner.motion);
  if (tables.vae) result.vae = tableWeightMap(tables.vae, owner.vae);
  if (tables.text) result.textEncoder = tableWeightMap(tables.text, owner.text);

  for (const req of loraRequests) {
    const lora: LoraFile = await parseLora(req.file, { unet: result.unet, unetConfig: result.unetConfig, text: result.textEncoder });
    for (const component of ['unet', 'text'] as const) {
      if (!lora.pairs.some((p) => p.component === component)) continue;
      const base = component === 'unet' ? result.unet : result.textEncoder;
      if (!base) {
        throw new WeightFileError('lora-mismatch', lora.name, `this LoRA targets the ${component === 'unet' ? 'UNet/motion modules' : 'text encoder'}, which no loaded file provides`);
      }
      const merged = mergeLora(base, lora, req.strength, component);
      if (merged.skipped.length) result.warnings.push(`${lora.name}: ${merged.skipped.length} LoRA targets not in the model, skipped: ${listSome(merged.skipped)}`);
      if (component === 'unet') result.unet = merged.weights;
      else result.textEncoder = merged.weights;
    }
  }
  return result;
}
