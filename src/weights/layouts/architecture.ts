// Recognising checkpoints of other model families, so the user gets "this is SDXL" instead of a key list.

export interface ForeignArchitecture {
  family: string;
  evidence: string;
}

const NEED = 'AnimateDiff Web needs a Stable Diffusion 1.5 model (and SD1.5 motion modules)';

export function foreignArchitectureMessage(a: ForeignArchitecture): string {
  return `this looks like ${a.family} checkpoint (${a.evidence}); ${NEED}`;
}

/** Scans keys and shapes for another family's tell-tale signs; null when nothing foreign is found. */
export function detectForeignArchitecture(shapes: ReadonlyMap<string, readonly number[]>): ForeignArchitecture | null {
  let sawMotion3Down = false, sawMotionDown3 = false;
  for (const [k, s] of shapes) {
    if (k.startsWith('conditioner.embedders.')) return { family: 'an SDXL', evidence: `key "${k}" (SDXL's two text encoders)` };
    if (/(^|\.)label_emb\./.test(k) || /^add_embedding\./.test(k)) return { family: 'an SDXL', evidence: `key "${k}" (size/crop conditioning)` };
    if (/(^|\.)joint_blocks\./.test(k)) return { family: 'a Stable Diffusion 3', evidence: `key "${k}"` };
    if (/(^|\.)double_blocks\./.test(k)) return { family: 'a FLUX', evidence: `key "${k}"` };
    if (/\.time_stack\./.test(k)) return { family: 'a Stable Video Diffusion', evidence: `key "${k}"` };
    if (k.startsWith('cond_stage_model.model.')) return { family: 'a Stable Diffusion 2.x', evidence: `key "${k}" (OpenCLIP text encoder)` };
    if (/pos_encoder\.positional_encoding$/.test(k)) return { family: 'a HotShot-XL (SDXL) motion module', evidence: `key "${k}"` };
    if (/attn2\.to_k\.weight$/.test(k) && s.length === 2 && !/motion_modules|temporal_transformer/.test(k)) {
      if (s[1] === 2048) return { family: 'an SDXL', evidence: `cross-attention "${k}" takes 2048-dim text embeddings ${JSON.stringify(s)}; SD1.5 uses 768` };
      if (s[1] === 1024) return { family: 'a Stable Diffusion 2.x', evidence: `cross-attention "${k}" takes 1024-dim text embeddings ${JSON.stringify(s)}; SD1.5 uses 768` };
    }
    if (/motion_modules\./.test(k)) {
      if (/^down_blocks\.3\./.test(k)) sawMotionDown3 = true;
      if (/^down_blocks\.2\./.test(k)) sawMotion3Down = true;
    }
  }
  if (sawMotion3Down && !sawMotionDown3) {
    return { family: 'an SDXL motion module', evidence: 'motion modules in 3 down blocks (SD1.5 modules have 4)' };
  }
  return null;
}
