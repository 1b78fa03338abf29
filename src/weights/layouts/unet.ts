// Canonical (diffusers UNet2DConditionModel) UNet key grammar, and the inverse LDM naming used to resolve
// kohya LoRA names written against the LDM module tree (`lora_unet_input_blocks_1_1_…`).

const UNET_KEY_RE = new RegExp(
  '^(?:(?:conv_in|conv_out|conv_norm_out|time_embedding\\.linear_[12])\\.(?:weight|bias)|' +
    '(?:down_blocks\\.\\d+|up_blocks\\.\\d+|mid_block)\\.(?:' +
    'resnets\\.\\d+\\.(?:norm1|norm2|conv1|conv2|time_emb_proj|conv_shortcut)|' +
    '(?:downsamplers|upsamplers)\\.0\\.conv|' +
    'attentions\\.\\d+\\.(?:norm|proj_in|proj_out|transformer_blocks\\.\\d+\\.(?:attn[12]\\.(?:to_q|to_k|to_v|to_out\\.0)|norm[123]|ff\\.net\\.0\\.proj|ff\\.net\\.2))' +
    ')\\.(?:weight|bias))$',
);

export function isDiffusersUnetKey(key: string): boolean {
  return UNET_KEY_RE.test(key);
}

/** Spatial transformer proj_in/proj_out: canonical shape is the SD1.5 1×1 conv (C, C, 1, 1). */
export function isSpatialProj(key: string): boolean {
  return /\.attentions\.\d+\.proj_(in|out)\.weight$/.test(key) && !key.includes('motion_modules');
}

const RESNET_INVERSE: [string, string][] = [
  ['norm1.', 'in_layers.0.'], ['conv1.', 'in_layers.2.'], ['time_emb_proj.', 'emb_layers.1.'],
  ['norm2.', 'out_layers.0.'], ['conv2.', 'out_layers.3.'], ['conv_shortcut.', 'skip_connection.'],
];
function resnetToLdm(rest: string): string | null {
  for (const [from, to] of RESNET_INVERSE) if (rest.startsWith(from)) return to + rest.slice(from.length);
  return null;
}

/** diffusers UNet key → LDM key (without `model.diffusion_model.`); inverse of ldmUnetKeyToDiffusers. */
export function diffusersUnetKeyToLdm(key: string, layersPerBlock: number, upHasAttention: readonly boolean[]): string | null {
  const L = layersPerBlock;
  let m: RegExpExecArray | null;
  if ((m = /^time_embedding\.linear_([12])\.(.+)$/.exec(key))) return `time_embed.${m[1] === '1' ? 0 : 2}.${m[2]}`;
  if ((m = /^conv_norm_out\.(.+)$/.exec(key))) return `out.0.${m[1]}`;
  if ((m = /^conv_out\.(.+)$/.exec(key))) return `out.2.${m[1]}`;
  if ((m = /^conv_in\.(.+)$/.exec(key))) return `input_blocks.0.0.${m[1]}`;
  if ((m = /^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(key))) {
    const i = 1 + Number(m[1]) * (L + 1) + Number(m[3]);
    if (m[2] === 'attentions') return `input_blocks.${i}.1.${m[4]}`;
    const r = resnetToLdm(m[4]);
    return r ? `input_blocks.${i}.0.${r}` : null;
  }
  if ((m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(key))) return `input_blocks.${1 + Number(m[1]) * (L + 1) + L}.0.op.${m[2]}`;
  if ((m = /^mid_block\.attentions\.0\.(.+)$/.exec(key))) return `middle_block.1.${m[1]}`;
  if ((m = /^mid_block\.resnets\.([01])\.(.+)$/.exec(key))) {
    const r = resnetToLdm(m[2]);
    return r ? `middle_block.${m[1] === '0' ? 0 : 2}.${r}` : null;
  }
  if ((m = /^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(key))) {
    const i = Number(m[1]) * (L + 1) + Number(m[3]);
    if (m[2] === 'attentions') return `output_blocks.${i}.1.${m[4]}`;
    const r = resnetToLdm(m[4]);
    return r ? `output_blocks.${i}.0.${r}` : null;
  }
  if ((m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(key))) {
    const b = Number(m[1]);
    return `output_blocks.${b * (L + 1) + L}.${upHasAttention[b] ? 2 : 1}.conv.${m[2]}`;
  }
  return null;
}
