// CompVis LDM VAE keys (`first_stage_model.*` prefix stripped, or a standalone LDM VAE file) → diffusers
// AutoencoderKL keys, as diffusers' `convert_ldm_vae_checkpoint`:
//   {encoder|decoder}.norm_out → conv_norm_out ; encoder.down.i.block.j → encoder.down_blocks.i.resnets.j ;
//   encoder.down.i.downsample.conv → encoder.down_blocks.i.downsamplers.0.conv ;
//   decoder.up.i.block.j → decoder.up_blocks.(N−1−i).resnets.j  (the up list is stored reversed) ;
//   decoder.up.i.upsample.conv → decoder.up_blocks.(N−1−i).upsamplers.0.conv ;
//   mid.block_1/block_2 → mid_block.resnets.0/1 ; mid.attn_1.{norm,q,k,v,proj_out} → mid_block.attentions.0.
//   {group_norm,to_q,to_k,to_v,to_out.0} (q/k/v/proj_out are 1×1 convs (C,C,1,1) in LDM: reshaped to (C,C)) ;
//   nin_shortcut → conv_shortcut. Old diffusers names (query/key/value/proj_attn) map to to_q/to_k/to_v/to_out.0.

/** Number of decoder up levels N (to undo the reversed order). */
export function ldmVaeUpLevels(keys: Iterable<string>): number {
  let n = 0;
  for (const k of keys) {
    const m = /^decoder\.up\.(\d+)\./.exec(k);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

const ATTN: Record<string, string> = { norm: 'group_norm', q: 'to_q', k: 'to_k', v: 'to_v', proj_out: 'to_out.0' };

export function ldmVaeKeyToDiffusers(key: string, upLevels: number): { name: string; squeeze: boolean } | null {
  let m: RegExpExecArray | null;
  const plain = (name: string) => ({ name, squeeze: false });
  if (/^(quant_conv|post_quant_conv)\.(weight|bias)$/.test(key)) return plain(key);
  if ((m = /^(encoder|decoder)\.(conv_in|conv_out)\.(weight|bias)$/.exec(key))) return plain(key);
  if ((m = /^(encoder|decoder)\.norm_out\.(weight|bias)$/.exec(key))) return plain(`${m[1]}.conv_norm_out.${m[2]}`);
  const resnet = (rest: string) => rest.replace(/^nin_shortcut\./, 'conv_shortcut.');
  const isResnetParam = (rest: string) => /^(norm1|norm2|conv1|conv2|nin_shortcut)\.(weight|bias)$/.test(rest);
  if ((m = /^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key))) {
    return isResnetParam(m[3]) ? plain(`encoder.down_blocks.${m[1]}.resnets.${m[2]}.${resnet(m[3])}`) : null;
  }
  if ((m = /^encoder\.down\.(\d+)\.downsample\.conv\.(weight|bias)$/.exec(key))) return plain(`encoder.down_blocks.${m[1]}.downsamplers.0.conv.${m[2]}`);
  if ((m = /^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key))) {
    const b = upLevels - 1 - Number(m[1]);
    return isResnetParam(m[3]) && b >= 0 ? plain(`decoder.up_blocks.${b}.resnets.${m[2]}.${resnet(m[3])}`) : null;
  }
  if ((m = /^decoder\.up\.(\d+)\.upsample\.conv\.(weight|bias)$/.exec(key))) {
    const b = upLevels - 1 - Number(m[1]);
    return b >= 0 ? plain(`decoder.up_blocks.${b}.upsamplers.0.conv.${m[2]}`) : null;
  }
  if ((m = /^(encoder|decoder)\.mid\.block_([12])\.(.+)$/.exec(key))) {
    return isResnetParam(m[3]) ? plain(`${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${resnet(m[3])}`) : null;
  }
  if ((m = /^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$/.exec(key))) {
    return { name: `${m[1]}.mid_block.attentions.0.${ATTN[m[2]]}.${m[3]}`, squeeze: m[2] !== 'norm' && m[3] === 'weight' };
  }
  return null;
}

/** diffusers VAE key, including the pre-0.14 attention names (query/key/value/proj_attn) → current names. */
export function diffusersVaeKey(key: string): string {
  return key
    .replace(/\.attentions\.0\.query\./, '.attentions.0.to_q.')
    .replace(/\.attentions\.0\.key\./, '.attentions.0.to_k.')
    .replace(/\.attentions\.0\.value\./, '.attentions.0.to_v.')
    .replace(/\.attentions\.0\.proj_attn\./, '.attentions.0.to_out.0.');
}
