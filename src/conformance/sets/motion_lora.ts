// Runner for `motion_lora` folders: the base UNet + motion modules of `config.base_model` (another folder) with a
// MotionLoRA merged by the project's loader (src/weights: W_eff = W + s·up@down) at each scale s the outputs name
// (`out_scale<s>`), and without it (`out_no_lora`); `_official` twins in official semantics.
import { hyperParamsFromDiffusers } from '../../models/config';
import { UNetMotion } from '../../models/unet';
import { mergeLora, parseLora } from '../../weights/lora';
import { openSafetensorsBytes } from '../../weights/safetensors';
import { weightMap, type WeightMap } from '../../weights/weight-map';
import { type CanonicalWeights, ConformanceError, type FolderReader, layoutsPresent, type RunContext, type RunOutputs, type SetRunner, type VectorConfig, type WeightLayout } from '../registry';
import { runUNetCall, semanticsSuffix, uploadUNetInputs } from './unet_motion_tiny';

/** `base_model` is a relative folder path, possibly followed by a note ("../../unet_motion_tiny/vA/ (same …)"). */
function baseDir(config: VectorConfig): string {
  const raw = typeof config.base_model === 'string' ? config.base_model.trim().split(/\s+/)[0] : '';
  if (!raw) throw new ConformanceError('config.json has no base_model folder');
  return raw.endsWith('/') ? raw : `${raw}/`;
}

const LORA_FILE = { diffusers: 'motion_lora_diffusers.safetensors', original: 'motion_lora_original.safetensors' } as const;

const loraFileOf = (layout: WeightLayout, dir: string): string => {
  const f = layout.files.find((x) => x === LORA_FILE.diffusers || x === LORA_FILE.original);
  if (!f) throw new ConformanceError(`${dir}: layout ${layout.name} has no MotionLoRA file`);
  return f;
};

/** The base weights of `layout` and its MotionLoRA, parsed against them (the merge happens per scale). */
async function baseAndLora(layout: WeightLayout, load: (files: string[]) => Promise<CanonicalWeights>, files: FolderReader) {
  const loraPath = loraFileOf(layout, files.dir);
  const base = await load(layout.files.filter((f) => f !== loraPath));
  const lora = await parseLora(await openSafetensorsBytes(await files.read(loraPath), loraPath), { unet: base });
  return { base, lora, loraPath };
}

function merged(base: WeightMap, lora: Awaited<ReturnType<typeof parseLora>>, s: number, loraPath: string): WeightMap {
  const m = mergeLora(base, lora, s);
  if (m.skipped.length) throw new ConformanceError(`${loraPath}: ${m.skipped.length} LoRA targets missing from the base model`);
  return m.weights;
}

/** The output's LoRA scale: `out_scale0.5` → 0.5, `out_no_lora` → null. */
function scaleOf(name: string): number | null {
  const m = /^out_scale([0-9.]+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

async function readBaseConfig(files: FolderReader, base: string): Promise<VectorConfig> {
  try {
    return JSON.parse(new TextDecoder().decode(await files.read(`${base}config.json`)));
  } catch (e) {
    throw new ConformanceError(`${files.dir}/${base}config.json (the base model's config) cannot be read: ${(e as Error).message}`);
  }
}

export const runner: SetRunner = {
  name: 'motion_lora',
  matches: (config: VectorConfig) => config.set === 'motion_lora',
  layouts(config, files): Promise<WeightLayout[]> {
    const b = baseDir(config);
    return layoutsPresent(files, [
      { name: 'diffusers', files: [`${b}unet_diffusers.safetensors`, `${b}motion_adapter_diffusers.safetensors`, LORA_FILE.diffusers] },
      { name: 'ldm+original', files: [`${b}unet_ldm.safetensors`, `${b}motion_module_original.safetensors`, LORA_FILE.original] },
    ], 'base model + MotionLoRA');
  },

  // The outputs are UNet calls on the base weights with the LoRA merged at each scale: a second layout (LDM UNet +
  // original motion module + original-format LoRA) whose base and merged weights are bit-identical to the first's
  // gives the same outputs, so the harness checks those weights instead of repeating 6 UNet calls.
  outputsDependOnlyOnCanonicalWeights: true,
  async layoutWeights(layout, load, files, outputNames) {
    const { base, lora, loraPath } = await baseAndLora(layout, load, files);
    const scales = [...new Set(outputNames.map((n) => scaleOf(n.replace(/_official$/, ''))).filter((s): s is number => s !== null))];
    const maps = new Map<string, WeightMap>([['no_lora', base], ...scales.map((s) => [`scale${s}`, merged(base, lora, s, loraPath)] as [string, WeightMap])]);
    const split = (n: string): [WeightMap, string] => {
      const i = n.indexOf('/');
      const m = maps.get(n.slice(0, i));
      if (!m) throw new ConformanceError(`no weights named ${n}`);
      return [m, n.slice(i + 1)];
    };
    return weightMap({
      has: (n) => { const i = n.indexOf('/'); return i > 0 && !!maps.get(n.slice(0, i))?.has(n.slice(i + 1)); },
      shape: (n) => { const [m, k] = split(n); return m.shape(k); },
      names: () => [...maps].flatMap(([p, m]) => m.names().map((k) => `${p}/${k}`)),
      get: (n) => { const [m, k] = split(n); return m.get(k); },
    });
  },

  async run(ctx: RunContext): Promise<RunOutputs> {
    const { engine: e, inputs, config } = ctx;
    const baseConfig = await readBaseConfig(ctx.files, baseDir(config));
    const hyper = hyperParamsFromDiffusers(baseConfig.unet_config ?? {}, baseConfig.motion_adapter_config ?? {});
    const { base, lora, loraPath } = await baseAndLora(ctx.layout, ctx.loadWeights, ctx.files);
    const t = inputs.get('timestep');
    if (!t) throw new ConformanceError(`${ctx.dir}: inputs.safetensors has no timestep`);
    const timesteps = Array.from(t.data);
    const sfx = semanticsSuffix(ctx.semantics);
    const out: RunOutputs = new Map();
    const x = uploadUNetInputs(e, inputs, ctx.dir);
    try {
      for (const name of ctx.wanted) {
        if (!name.endsWith(sfx) || !name.startsWith('out_') || (sfx === '' && name.endsWith('_official'))) continue;
        const plain = sfx ? name.slice(0, -sfx.length) : name;
        const s = scaleOf(plain);
        if (s === null && plain !== 'out_no_lora') continue;
        const weights = s === null ? base : merged(base, lora, s, loraPath);
        const unet = await UNetMotion.load(e, weights, hyper);
        try {
          await runUNetCall(e, unet, x, timesteps, ctx.semantics, { out: plain }, ctx.wanted, out);
        } finally {
          unet.release();
        }
      }
    } finally {
      x.release();
    }
    return out;
  },
};
