// CompVis LDM UNet keys (`model.diffusion_model.*`, prefix already stripped) → diffusers UNet2DConditionModel keys,
// the same way diffusers' `convert_ldm_unet_checkpoint` does, with the block counts read from the keys
// (a model with other channel widths but the SD1.5 topology converts the same way).
//
//   input_blocks.0.0            → conv_in
//   input_blocks.{i≥1}          → down_blocks.b, layer l with b = ⌊(i−1)/(L+1)⌋, l = (i−1) mod (L+1)
//       .0 (l < L) → resnets.l ; .1 → attentions.l ; .0.op (l = L) → downsamplers.0.conv
//   middle_block.0 / .1 / .2    → mid_block.resnets.0 / attentions.0 / resnets.1
//   output_blocks.{i}           → up_blocks.⌊i/(L+1)⌋, layer i mod (L+1):
//       .0 → resnets.l ; .1 → attentions.l, or upsamplers.0 when it is `.1.conv` ; .2.conv → upsamplers.0.conv
//   time_embed.0/.2 → time_embedding.linear_1/_2 ; out.0/.2 → conv_norm_out/conv_out
//   ResBlock: in_layers.0/.2 → norm1/conv1, emb_layers.1 → time_emb_proj, out_layers.0/.3 → norm2/conv2,
//             skip_connection → conv_shortcut.  SpatialTransformer internals keep their names.
// L (layers per block) = index of the first `input_blocks.N.0.op` − 1.

const RESNET_RENAMES: [string, string][] = [
  ['in_layers.0.', 'norm1.'], ['in_layers.2.', 'conv1.'], ['emb_layers.1.', 'time_emb_proj.'],
  ['out_layers.0.', 'norm2.'], ['out_layers.3.', 'conv2.'], ['skip_connection.', 'conv_shortcut.'],
];

function renameResnet(rest: string): string | null {
  for (const [from, to] of RESNET_RENAMES) if (rest.startsWith(from)) return to + rest.slice(from.length);
  return null;
}

/** Layers per down block L, derived from where the first downsampler (`input_blocks.N.0.op`) sits. */
export function ldmLayersPerBlock(keys: Iterable<string>): number {
  let firstOp = Infinity, maxInput = 0;
  for (const k of keys) {
    const m = /^input_blocks\.(\d+)\.0\.op\./.exec(k);
    if (m) firstOp = Math.min(firstOp, Number(m[1]));
    const n = /^input_blocks\.(\d+)\./.exec(k);
    if (n) maxInput = Math.max(maxInput, Number(n[1]));
  }
  return Number.isFinite(firstOp) ? firstOp - 1 : maxInput; // one down block only: all inputs are layers
}

/**
 * One LDM UNet key (without `model.diffusion_model.`) → its diffusers name, or null when it is not a UNet2D key
 * this converter knows (the caller reports those).
 */
export function ldmUnetKeyToDiffusers(key: string, layersPerBlock: number): string | null {
  const L = layersPerBlock;
  let m: RegExpExecArray | null;
  if ((m = /^time_embed\.([02])\.(weight|bias)$/.exec(key))) return `time_embedding.linear_${m[1] === '0' ? 1 : 2}.${m[2]}`;
  if ((m = /^out\.([02])\.(weight|bias)$/.exec(key))) return `${m[1] === '0' ? 'conv_norm_out' : 'conv_out'}.${m[2]}`;
  if ((m = /^input_blocks\.0\.0\.(weight|bias)$/.exec(key))) return `conv_in.${m[1]}`;
  if ((m = /^input_blocks\.(\d+)\.([01])\.(.+)$/.exec(key))) {
    const i = Number(m[1]);
    if (i < 1) return null;
    const b = Math.floor((i - 1) / (L + 1)), l = (i - 1) % (L + 1);
    const sub = m[2], rest = m[3];
    if (l === L) {
      const op = /^op\.(weight|bias)$/.exec(rest);
      return sub === '0' && op ? `down_blocks.${b}.downsamplers.0.conv.${op[1]}` : null;
    }
    if (sub === '0') {
      const r = renameResnet(rest);
      return r ? `down_blocks.${b}.resnets.${l}.${r}` : null;
    }
    return `down_blocks.${b}.attentions.${l}.${rest}`;
  }
  if ((m = /^middle_block\.([012])\.(.+)$/.exec(key))) {
    if (m[1] === '1') return `mid_block.attentions.0.${m[2]}`;
    const r = renameResnet(m[2]);
    return r ? `mid_block.resnets.${m[1] === '0' ? 0 : 1}.${r}` : null;
  }
  if ((m = /^output_blocks\.(\d+)\.([012])\.(.+)$/.exec(key))) {
    const i = Number(m[1]);
    const b = Math.floor(i / (L + 1)), l = i % (L + 1);
    const sub = m[2], rest = m[3];
    const conv = /^conv\.(weight|bias)$/.exec(rest);
    if (sub === '0') {
      const r = renameResnet(rest);
      return r ? `up_blocks.${b}.resnets.${l}.${r}` : null;
    }
    if (conv) return `up_blocks.${b}.upsamplers.0.conv.${conv[1]}`;
    return sub === '1' ? `up_blocks.${b}.attentions.${l}.${rest}` : null;
  }
  return null;
}
