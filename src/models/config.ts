// Model configuration: a small set of hyper-parameters that weights cannot tell (head counts, GroupNorm groups,
// eps), plus the topology read from the weight shapes (channels, block counts, attention / motion placement).
// Nothing here hard-codes SD1.5's 320/640/1280: those come from the weights.
import { KindedError } from '../errors';
import { previewJson } from '../util/json-preview';
import type { MotionVersion } from '../weights/layouts/motion';
import { ModelWeightsError, Scope } from './layers';
import type { WeightMap } from '../weights/weight-map';

export type { MotionVersion };

/**
 * Which reference the motion modules (and, for v1 modules, the ResNet GroupNorms) follow:
 * - `official_animatediff` (guoyww/AnimateDiff SD1.5 code): the motion-module GroupNorm normalises each frame
 *   separately; with v1 modules the ResNet GroupNorms and `conv_norm_out` pool statistics over the frames of one
 *   sample (`use_inflated_groupnorm: false`); v2/v3 are per frame everywhere.
 * - `diffusers` (`AnimateDiffTransformer3D`): the motion-module GroupNorm pools over all frames of a sample;
 *   ResNets are always per frame.
 * Statistics are never pooled across batch elements (CFG halves are different samples).
 */
export type Semantics = 'official_animatediff' | 'diffusers';

/** What the weights cannot say. Field names follow diffusers' config.json where one exists. */
export interface UNetHyperParams {
  /**
   * Spatial attention heads per block (diffusers `num_attention_heads`, or the legacy `attention_head_dim`, which
   * for SD1.5-type UNets *is* the head count: 8). One number for all blocks, or one per down block.
   */
  heads: number | readonly number[];
  /** `norm_num_groups` (32 in SD1.5). */
  normGroups: number;
  /** `norm_eps` of ResNet GroupNorms and conv_norm_out (1e-5). */
  normEps: number;
  /** `motion_num_attention_heads` (8). */
  motionHeads: number;
  /** `motion_norm_num_groups` (32). */
  motionNormGroups: number;
  /** Timestep sinusoid order (`flip_sin_to_cos`): [cos, sin] when true (SD1.5). Default true. */
  flipSinToCos?: boolean;
  /** `freq_shift` of the timestep sinusoid (SD1.5: 0). Default 0. */
  freqShift?: number;
  /**
   * Motion-module version (the loader's `LoadedWeights.motion.version`, or the user's choice): under official
   * semantics 'v1' pools the ResNet / conv_norm_out GroupNorms over frames. Default: inferred from the weights.
   */
  motionVersion?: MotionVersion;
}

/** SD1.5 (runwayml/stable-diffusion-v1-5 unet/config.json) with a real AnimateDiff motion adapter. */
export const SD15_HYPER_PARAMS: UNetHyperParams = { heads: 8, normGroups: 32, normEps: 1e-5, motionHeads: 8, motionNormGroups: 32 };

/** diffusers UNet2DConditionModel options this implementation does not have, with the value it assumes. */
const UNSUPPORTED_UNET_OPTIONS: Record<string, unknown> = {
  center_input_sample: false, resnet_time_scale_shift: 'default', resnet_skip_time_act: false, resnet_out_scale_factor: 1,
  mid_block_scale_factor: 1, time_embedding_type: 'positional', time_embedding_act_fn: null, timestep_post_act: null,
  time_cond_proj_dim: null, class_embed_type: null, addition_embed_type: null, encoder_hid_dim: null,
  dual_cross_attention: false, only_cross_attention: false, cross_attention_norm: null, attention_type: 'default',
  act_fn: 'silu',
};

/**
 * Hyper-parameters from diffusers' `UNet2DConditionModel` and `MotionAdapter` configs (e.g. an oracle config.json).
 * Throws for options that change the architecture in ways this implementation does not model.
 */
export function hyperParamsFromDiffusers(unetConfig: Record<string, any>, motionConfig: Record<string, any> = {}): UNetHyperParams {
  for (const [k, v] of Object.entries(UNSUPPORTED_UNET_OPTIONS)) {
    const got = unetConfig[k];
    if (got !== undefined && got !== v && !(v === false && got === null)) {
      throw new ModelConfigError(`unet_config.${k} = ${previewJson(got)} is not supported (SD1.5 UNets use ${JSON.stringify(v)})`);
    }
  }
  const count = (where: string, key: string, v: unknown, fallback: number): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ModelConfigError(`${where}.${key} must be a positive whole number, found ${previewJson(v)}`);
    return v;
  };
  const rawHeads = unetConfig.num_attention_heads ?? unetConfig.attention_head_dim;
  const heads = Array.isArray(rawHeads)
    ? rawHeads.map((h: unknown, i: number) => count('unet_config', `num_attention_heads[${i}]`, h, 0))
    : count('unet_config', 'num_attention_heads', rawHeads, SD15_HYPER_PARAMS.heads as number);
  const eps = unetConfig.norm_eps ?? SD15_HYPER_PARAMS.normEps;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) throw new ModelConfigError(`unet_config.norm_eps must be a small positive number, found ${previewJson(eps)}`);
  const flip = unetConfig.flip_sin_to_cos ?? true, shift = unetConfig.freq_shift ?? 0;
  if (typeof flip !== 'boolean') throw new ModelConfigError(`unet_config.flip_sin_to_cos must be true or false, found ${previewJson(flip)}`);
  if (typeof shift !== 'number' || !Number.isFinite(shift)) throw new ModelConfigError(`unet_config.freq_shift must be a number, found ${previewJson(shift)}`);
  return {
    flipSinToCos: flip,
    freqShift: shift,
    heads,
    normGroups: count('unet_config', 'norm_num_groups', unetConfig.norm_num_groups, SD15_HYPER_PARAMS.normGroups),
    normEps: eps,
    motionHeads: count('motion_adapter_config', 'motion_num_attention_heads', motionConfig.motion_num_attention_heads, SD15_HYPER_PARAMS.motionHeads),
    motionNormGroups: count('motion_adapter_config', 'motion_norm_num_groups', motionConfig.motion_norm_num_groups, SD15_HYPER_PARAMS.motionNormGroups),
  };
}

/** A config.json value this implementation cannot use (an unsupported option, or not a number where one is needed). */
export class ModelConfigError extends KindedError {
  constructor(message: string) {
    super('unsupported-model', message);
  }
}

/** One down or up block as the weights describe it. */
export interface BlockTopology {
  /** Output channels of the block's ResNets. */
  channels: number;
  /** ResNet count (SD1.5: 2 down, 3 up). */
  layers: number;
  /** Spatial transformers after each ResNet (CrossAttn*Block2D) or none (Down/UpBlock2D). */
  attention: boolean;
  /** Motion modules after each ResNet(+attention): equal to `layers`, or 0 for a plain 2-D UNet. */
  motionModules: number;
  /** Downsampler (down blocks) or upsampler (up blocks) at the end. */
  resample: boolean;
}

export interface UNetTopology {
  inChannels: number;
  outChannels: number;
  /** conv_in's output channels (= block_out_channels[0] in every SD UNet). */
  stemChannels: number;
  /** Sinusoidal timestep features (= block_out_channels[0], the input of time_embedding.linear_1). */
  timeProjDim: number;
  /** Time embedding width (4·C0). */
  timeEmbedDim: number;
  /** Text embedding width the cross-attentions expect (768 for SD1.5); 0 when no block has attention. */
  crossAttentionDim: number;
  down: BlockTopology[];
  mid: { channels: number; attention: boolean; motion: boolean };
  up: BlockTopology[];
  /** Positional-encoding length stored with the motion modules, if the weights carry it (24 v1, 32 v2/v3). */
  motionPeLength?: number;
  /** Motion-module version: from the weights (mid module → v2, PE 24 → v1, else v3), or the override. */
  motionVersion: MotionVersion;
}

function blockTopology(s: Scope, kind: 'down' | 'up'): BlockTopology {
  const layers = s.count('resnets', 'conv1.weight');
  const attention = s.has('attentions.0.norm.weight');
  if (attention && s.count('attentions', 'norm.weight') !== layers) {
    throw new ModelWeightsError(`${s.prefix}: ${s.count('attentions', 'norm.weight')} attentions for ${layers} resnets`);
  }
  const motionModules = s.count('motion_modules', 'proj_in.weight');
  if (motionModules !== 0 && motionModules !== layers) {
    throw new ModelWeightsError(`${s.prefix}: ${motionModules} motion modules for ${layers} resnets (expected one after each)`);
  }
  const resample = s.has(kind === 'down' ? 'downsamplers.0.conv.weight' : 'upsamplers.0.conv.weight');
  return { channels: s.shape('resnets.0.conv1.weight')[0], layers, attention, motionModules, resample };
}

/** Read the UNet's topology from canonical (diffusers UNetMotionModel) weight names and shapes. */
export function inferUNetTopology(w: WeightMap, override?: MotionVersion): UNetTopology {
  const s = new Scope(w);
  const downCount = s.count('down_blocks', 'resnets.0.conv1.weight');
  const upCount = s.count('up_blocks', 'resnets.0.conv1.weight');
  if (downCount === 0 || upCount === 0) throw new ModelWeightsError('no UNet down/up blocks in the weights (expected down_blocks.0.resnets.0.conv1.weight …)');
  const down = Array.from({ length: downCount }, (_, i) => blockTopology(s.pp('down_blocks').pp(i), 'down'));
  const up = Array.from({ length: upCount }, (_, i) => blockTopology(s.pp('up_blocks').pp(i), 'up'));
  const mid = {
    channels: s.shape('mid_block.resnets.0.conv1.weight')[0],
    attention: s.has('mid_block.attentions.0.norm.weight'),
    motion: s.has('mid_block.motion_modules.0.proj_in.weight'),
  };
  const crossKey = [...down.map((b, i) => (b.attention ? `down_blocks.${i}.attentions.0.transformer_blocks.0.attn2.to_k.weight` : '')),
    mid.attention ? 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight' : ''].find((k) => k !== '');
  const motionPeLength = findPeLength(w, down, up);
  const motionVersion = override ?? (mid.motion ? 'v2' : motionPeLength === 24 ? 'v1' : 'v3');
  return {
    inChannels: s.shape('conv_in.weight')[1],
    outChannels: s.shape('conv_out.weight')[0],
    stemChannels: s.shape('conv_in.weight')[0],
    timeProjDim: s.shape('time_embedding.linear_1.weight')[1],
    timeEmbedDim: s.shape('time_embedding.linear_2.weight')[0],
    crossAttentionDim: crossKey ? s.shape(crossKey)[1] : 0,
    down, mid, up, motionPeLength, motionVersion,
  };
}

/** The stored PE table length of the first motion module, under diffusers or original naming, if any. */
function findPeLength(w: WeightMap, down: BlockTopology[], up: BlockTopology[]): number | undefined {
  const prefix = down.findIndex((b) => b.motionModules > 0) >= 0
    ? `down_blocks.${down.findIndex((b) => b.motionModules > 0)}.motion_modules.0`
    : up.findIndex((b) => b.motionModules > 0) >= 0 ? `up_blocks.${up.findIndex((b) => b.motionModules > 0)}.motion_modules.0` : undefined;
  if (!prefix) return undefined;
  for (const k of [`${prefix}.transformer_blocks.0.pos_embed.pe`, `${prefix}.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe`]) {
    if (w.has(k)) return w.shape(k)[1];
  }
  return undefined;
}

/** Spatial head count of down block `i` (up block j mirrors down block n-1-j; the mid block uses the last). */
export function headsFor(h: UNetHyperParams, downIndex: number): number {
  return typeof h.heads === 'number' ? h.heads : h.heads[downIndex];
}

/**
 * Elements of the widest tensor one UNet layer makes for `frameRows` frames of h×w latents, feed-forward hidden
 * states excepted (they run in row chunks): per resolution level, the fused QKV (3C) of spatial / motion attention
 * and every ResNet input (up blocks: running state + skip, from the simulated skip stack).
 */
export function widestActivation(topo: UNetTopology, frameRows: number, h: number, w: number): number {
  let widest = 0;
  const levelOf = (downIndex: number) => topo.down.slice(0, downIndex).filter((d) => d.resample).length;
  const consider = (level: number, width: number) => { widest = Math.max(widest, frameRows * (h >> level) * (w >> level) * width); };
  const attnWidth = (b: BlockTopology) => (b.attention || b.motionModules ? 3 * b.channels : b.channels);
  const stack = [topo.stemChannels];
  let ch = topo.stemChannels;
  topo.down.forEach((b, i) => {
    for (let l = 0; l < b.layers; l++) {
      consider(levelOf(i), Math.max(ch, attnWidth(b)));
      ch = b.channels;
      stack.push(ch);
    }
    if (b.resample) stack.push(ch);
  });
  const n = topo.down.length;
  consider(levelOf(n), topo.mid.attention || topo.mid.motion ? 3 * topo.mid.channels : topo.mid.channels);
  topo.up.forEach((b, j) => {
    for (let l = 0; l < b.layers; l++) {
      consider(levelOf(n - 1 - j), Math.max(ch + (stack.pop() ?? 0), attnWidth(b)));
      ch = b.channels;
    }
  });
  return widest;
}
