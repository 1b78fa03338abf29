// Per-file key mapping: which component each tensor belongs to and its canonical name and shape.
//   unet   → diffusers UNet2DConditionModel names   (from diffusers files or LDM `model.diffusion_model.*`)
//   motion → diffusers MotionAdapter names          (from MotionAdapter files or original AnimateDiff files)
//   vae    → diffusers AutoencoderKL names          (from diffusers files or LDM `first_stage_model.*`)
//   text   → transformers CLIPTextModel `text_model.*` (from hub files or LDM `cond_stage_model.transformer.*`)
// Reshape fix-ups (same bytes, C order): LDM VAE mid-attention 1×1 convs (C,C,1,1) → linear (C,C); a linear
// (C,C) spatial-transformer proj_in/proj_out → the SD1.5 1×1-conv shape (C,C,1,1) that diffusers uses.

import { WeightFileError, listSome } from '../errors';
import type { SafetensorsFile } from '../safetensors';
import { detectForeignArchitecture, foreignArchitectureMessage } from './architecture';
import { clipRelative, clipRelativeKey } from './clip';
import { ldmLayersPerBlock, ldmUnetKeyToDiffusers } from './ldm-unet';
import { diffusersVaeKey, ldmVaeKeyToDiffusers, ldmVaeUpLevels } from './ldm-vae';
import { isDiffusersMotionKey, originalMotionKeyToDiffusers } from './motion';
import { isDiffusersUnetKey, isSpatialProj } from './unet';

export type Component = 'unet' | 'motion' | 'vae' | 'text';

export interface TensorSource {
  file: SafetensorsFile;
  /** The name in the file. */
  key: string;
  /** Canonical shape (after reshape fix-ups; same number of elements as stored). */
  shape: number[];
}

export interface FileMapping {
  /** Per component: canonical name → where it is stored. */
  components: Partial<Record<Component, Map<string, TensorSource>>>;
  /** Per component, which source layout it came from. */
  layouts: Partial<Record<Component, 'diffusers' | 'ldm' | 'original' | 'transformers'>>;
  /** Known non-weight keys skipped on purpose (EMA copies, scheduler buffers, position_ids, duplicate PE tables). */
  ignored: string[];
  /** Keys no rule recognises (reported as warnings). */
  unknown: string[];
}

/** Non-model keys of SD single files (animatediff.md §2.5, manifests' extra_keys_note). */
const IGNORED_RE = /^(?:model_ema\.|alphas_cumprod|alphas_cumprod_prev|betas|log_one_minus_alphas_cumprod|posterior_|sqrt_|lvlb_weights|logvar|state_dict\.?$)/;

const LDM_UNET_BARE_RE = /^(?:input_blocks|middle_block|output_blocks|time_embed|out)\./;
const LDM_VAE_BARE_RE = /^(?:encoder\.(?:down|mid|norm_out|conv_in|conv_out)|decoder\.(?:up|mid|norm_out|conv_in|conv_out)|quant_conv|post_quant_conv)\b/;

/** LoRA-style keys (any family): such files are parsed by lora.ts, not mapped as base weights. */
export function isLoraKey(key: string): boolean {
  return /(?:lora_down|lora_up|lora_A|lora_B|_lora\.(?:down|up)|lora_linear_layer|hada_w[12]|lokr_w[12])\b|^lora_(?:unet|te\d?)_/.test(key);
}

function squeezeTo2d(s: readonly number[]): number[] {
  return s.length === 4 && s[2] === 1 && s[3] === 1 ? [s[0], s[1]] : [...s];
}

export function mapFile(file: SafetensorsFile): FileMapping {
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of file.tensors) shapes.set(k, t.shape);
  const foreign = detectForeignArchitecture(shapes);
  if (foreign) throw new WeightFileError('wrong-architecture', file.name, foreignArchitectureMessage(foreign));

  const keys = [...file.tensors.keys()];
  const ldmUnetKeys = keys.filter((k) => k.startsWith('model.diffusion_model.')).map((k) => k.slice('model.diffusion_model.'.length));
  const bareLdmUnet = keys.filter((k) => LDM_UNET_BARE_RE.test(k));
  const L = ldmLayersPerBlock(ldmUnetKeys.length ? ldmUnetKeys : bareLdmUnet);
  const vaeLdmKeys = keys.filter((k) => k.startsWith('first_stage_model.')).map((k) => k.slice('first_stage_model.'.length));
  const bareVaeLdm = keys.filter((k) => /^decoder\.up\.\d+\./.test(k));
  const upLevels = ldmVaeUpLevels(vaeLdmKeys.length ? vaeLdmKeys : bareVaeLdm);
  const bareVaeIsLdm = bareVaeLdm.length > 0;

  const out: FileMapping = { components: {}, layouts: {}, ignored: [], unknown: [] };
  const put = (c: Component, layout: FileMapping['layouts'][Component], name: string, key: string, shape: number[]) => {
    const m = (out.components[c] ??= new Map());
    if (m.has(name)) throw new WeightFileError('duplicate', file.name, `"${key}" and "${m.get(name)!.key}" both map to ${c} weight "${name}"`);
    m.set(name, { file, key, shape });
    out.layouts[c] ??= layout;
  };

  for (const key of keys) {
    const shape = [...file.tensors.get(key)!.shape];
    if (IGNORED_RE.test(key)) { out.ignored.push(key); continue; }
    // 1. LDM single-file prefixes
    if (key.startsWith('model.diffusion_model.')) {
      const rel = key.slice('model.diffusion_model.'.length);
      const name = ldmUnetKeyToDiffusers(rel, L);
      if (name && isDiffusersUnetKey(name)) put('unet', 'ldm', name, key, isSpatialProj(name) && shape.length === 2 ? [...shape, 1, 1] : shape);
      else out.unknown.push(key);
      continue;
    }
    if (key.startsWith('first_stage_model.')) {
      const r = ldmVaeKeyToDiffusers(key.slice('first_stage_model.'.length), upLevels);
      if (r) put('vae', 'ldm', r.name, key, r.squeeze ? squeezeTo2d(shape) : shape);
      else out.unknown.push(key);
      continue;
    }
    if (key.startsWith('cond_stage_model.') || key.startsWith('text_model.')) {
      const rel = clipRelative(key);
      const name = rel === null ? undefined : clipRelativeKey(rel);
      if (name) put('text', key.startsWith('cond_stage_model.') ? 'ldm' : 'transformers', name, key, shape);
      else if (name === null) out.ignored.push(key);
      else out.unknown.push(key);
      continue;
    }
    // 2. motion modules (original, then diffusers)
    const orig = originalMotionKeyToDiffusers(key);
    if (orig !== undefined) {
      if (orig === null) out.ignored.push(key);
      else put('motion', 'original', orig, key, shape);
      continue;
    }
    if (isDiffusersMotionKey(key)) { put('motion', 'diffusers', key, key, shape); continue; }
    // 3. diffusers UNet / VAE, bare LDM UNet / VAE, bare CLIP
    if (isDiffusersUnetKey(key)) { put('unet', 'diffusers', key, key, isSpatialProj(key) && shape.length === 2 ? [...shape, 1, 1] : shape); continue; }
    if (LDM_UNET_BARE_RE.test(key)) {
      const name = ldmUnetKeyToDiffusers(key, L);
      if (name && isDiffusersUnetKey(name)) put('unet', 'ldm', name, key, isSpatialProj(name) && shape.length === 2 ? [...shape, 1, 1] : shape);
      else out.unknown.push(key);
      continue;
    }
    if (bareVaeIsLdm && LDM_VAE_BARE_RE.test(key)) {
      const r = ldmVaeKeyToDiffusers(key, upLevels);
      if (r) put('vae', 'ldm', r.name, key, r.squeeze ? squeezeTo2d(shape) : shape);
      else out.unknown.push(key);
      continue;
    }
    if (/^(?:encoder|decoder)\.|^(?:quant_conv|post_quant_conv)\./.test(key) && !/^encoder\.layers\./.test(key)) {
      const name = diffusersVaeKey(key);
      if (/^(?:(?:encoder|decoder)\.(?:conv_in|conv_out|conv_norm_out|(?:down_blocks|up_blocks)\.\d+\.(?:resnets\.\d+\.(?:norm1|norm2|conv1|conv2|conv_shortcut)|(?:downsamplers|upsamplers)\.0\.conv)|mid_block\.(?:resnets\.[01]\.(?:norm1|norm2|conv1|conv2|conv_shortcut)|attentions\.0\.(?:group_norm|to_q|to_k|to_v|to_out\.0)))|quant_conv|post_quant_conv)\.(?:weight|bias)$/.test(name)) {
        const isAttnW = /attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name);
        put('vae', 'diffusers', name, key, isAttnW ? squeezeTo2d(shape) : shape);
      } else out.unknown.push(key);
      continue;
    }
    const rel = clipRelative(key);
    if (rel !== null) {
      const name = clipRelativeKey(rel);
      if (name) put('text', 'transformers', name, key, shape);
      else if (name === null) out.ignored.push(key);
      else out.unknown.push(key);
      continue;
    }
    out.unknown.push(key);
  }

  if (keys.some((k) => k.startsWith('controlnet_cond_embedding.') || k.includes('.controlnet_cond_embedding.'))) {
    throw new WeightFileError('unknown-layout', file.name, 'this is a SparseCtrl encoder (controlnet_cond_embedding keys); expected a motion module, UNet, VAE or text encoder — SparseCtrl is not supported');
  }
  if (out.components.motion && out.components.unet && !out.components.unet.has('down_blocks.0.resnets.0.conv1.weight')) {
    throw new WeightFileError('unknown-layout', file.name, 'this looks like a PIA motion module (motion modules plus its own conv_in); expected a plain AnimateDiff motion module — PIA is not supported');
  }
  const total = Object.values(out.components).reduce((n, m) => n + (m?.size ?? 0), 0);
  if (total === 0) {
    const pc = out.unknown.find((k) => /(^|\.)conv_in\./.test(k) && /motion/.test(k));
    throw new WeightFileError(
      'unknown-layout', file.name,
      `expected a Stable Diffusion 1.5 UNet/VAE/text encoder or an AnimateDiff motion module (diffusers, LDM or original AnimateDiff key layout); ` +
        `found ${keys.length} tensors with unrecognised names: ${listSome(keys.slice(0, 50), 4)}${pc ? ' (PIA/SparseCtrl files are not supported)' : ''}`,
    );
  }
  return out;
}
