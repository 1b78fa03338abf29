// CLIP text encoder names → transformers `CLIPTextModel` hub names (`text_model.*`).
//   LDM single file: cond_stage_model.transformer.text_model.X (SD1.5) or cond_stage_model.transformer.X (some SD1.4)
//   transformers ≥ 5 in-memory names: X without `text_model.`

const TEXT_PARAM_RE =
  /^(?:embeddings\.(?:token|position)_embedding\.weight|encoder\.layers\.\d+\.(?:self_attn\.(?:q|k|v|out)_proj|layer_norm[12]|mlp\.fc[12])\.(?:weight|bias)|final_layer_norm\.(?:weight|bias))$/;

/** Keys every SD text-encoder file may carry that are not weights (non-persistent buffers, projection heads). */
const TEXT_IGNORED_RE = /^(?:embeddings\.position_ids|text_projection\.weight|logit_scale)$/;

/**
 * `text_model.`-relative name X → canonical `text_model.X`, null to ignore, undefined if unknown.
 */
export function clipRelativeKey(rel: string): string | null | undefined {
  if (TEXT_PARAM_RE.test(rel)) return `text_model.${rel}`;
  if (TEXT_IGNORED_RE.test(rel)) return null;
  return undefined;
}

/** Strips the known prefixes of a text-encoder key to the `text_model.`-relative part, or returns null. */
export function clipRelative(key: string): string | null {
  for (const p of ['cond_stage_model.transformer.text_model.', 'cond_stage_model.transformer.', 'text_model.']) {
    if (key.startsWith(p)) return key.slice(p.length);
  }
  if (/^(embeddings|encoder\.layers|final_layer_norm)\./.test(key)) return key;
  if (key === 'text_projection.weight' || key === 'logit_scale') return key;
  return null;
}
