// AnimateDiff motion modules: original checkpoint layout → diffusers MotionAdapter / UNetMotionModel names, and
// version detection (animatediff.md §1.3–1.5, §2.1–2.3).
//
// Original (guoyww/AnimateDiff, A1111/ComfyUI, AnimateDiff-Lightning "comfyui" files), per module prefix P:
//   P.temporal_transformer.{norm,proj_in,proj_out}                     → P.{norm,proj_in,proj_out}
//   ….transformer_blocks.t.attention_blocks.a.{to_q,to_k,to_v,to_out.0} → ….transformer_blocks.t.attn{a+1}.…
//   ….transformer_blocks.t.norms.a → norm{a+1} ; ff_norm → norm3 ; ff.net.{0.proj,2} unchanged
//   ….attention_blocks.0.pos_encoder.pe (1, L, C) → ….transformer_blocks.t.pos_embed.pe ; attention_blocks.1's copy
//   is the same sinusoidal table and is dropped (diffusers keeps one per block and adds it before attn1 and attn2).

export type MotionVersion = 'v1' | 'v2' | 'v3' | 'lightning' | 'lcm';

export interface MotionModuleInfo {
  /** The detected (or user-chosen) version. */
  version: MotionVersion;
  /** Versions the keys and shapes cannot tell apart from `version` (the user may pick another one of these). */
  alternatives: MotionVersion[];
  /** How the version was decided. */
  basis: 'keys' | 'file-name' | 'user' | 'default';
  hasMidBlock: boolean;
  /** Rows of the stored positional table, or null when the file has none (the table is recomputable). */
  peLength: number | null;
  groupNormSemantics: {
    /** v1 only: ResNet norm1/norm2 and conv_norm_out statistics pooled over all frames of a sample (official code). */
    resnetPooledOverFrames: boolean;
  };
}

const MODULE_PREFIX = '((?:(?:down_blocks|up_blocks)\\.\\d+|mid_block)\\.motion_modules\\.\\d+\\.)?';
const ORIGINAL_RE = new RegExp(`^${MODULE_PREFIX}temporal_transformer\\.(.+)$`);

/** Original layout key → diffusers name; null = ignore (duplicate PE table); undefined = not a motion-module key. */
export function originalMotionKeyToDiffusers(key: string): string | null | undefined {
  const m = ORIGINAL_RE.exec(key);
  if (!m) return undefined;
  const prefix = m[1] ?? '', rest = m[2];
  let r: RegExpExecArray | null;
  if (/^(norm|proj_in|proj_out)\.(weight|bias)$/.test(rest)) return prefix + rest;
  if ((r = /^transformer_blocks\.(\d+)\.attention_blocks\.([01])\.(to_q\.weight|to_k\.weight|to_v\.weight|to_out\.0\.weight|to_out\.0\.bias)$/.exec(rest))) {
    return `${prefix}transformer_blocks.${r[1]}.attn${Number(r[2]) + 1}.${r[3]}`;
  }
  if ((r = /^transformer_blocks\.(\d+)\.attention_blocks\.([01])\.pos_encoder\.pe$/.exec(rest))) {
    return r[2] === '0' ? `${prefix}transformer_blocks.${r[1]}.pos_embed.pe` : null;
  }
  if ((r = /^transformer_blocks\.(\d+)\.norms\.([01])\.(weight|bias)$/.exec(rest))) return `${prefix}transformer_blocks.${r[1]}.norm${Number(r[2]) + 1}.${r[3]}`;
  if ((r = /^transformer_blocks\.(\d+)\.ff_norm\.(weight|bias)$/.exec(rest))) return `${prefix}transformer_blocks.${r[1]}.norm3.${r[2]}`;
  if ((r = /^transformer_blocks\.(\d+)\.(ff\.net\.0\.proj|ff\.net\.2)\.(weight|bias)$/.exec(rest))) return `${prefix}transformer_blocks.${r[1]}.${r[2]}.${r[3]}`;
  return undefined;
}

const DIFFUSERS_MODULE_RE = new RegExp(
  `^${MODULE_PREFIX}(?:(?:norm|proj_in|proj_out)\\.(?:weight|bias)|transformer_blocks\\.\\d+\\.(?:` +
    'attn[12]\\.(?:to_q\\.weight|to_k\\.weight|to_v\\.weight|to_out\\.0\\.weight|to_out\\.0\\.bias)|' +
    'norm[123]\\.(?:weight|bias)|ff\\.net\\.(?:0\\.proj|2)\\.(?:weight|bias)|pos_embed\\.pe))$',
);

/** True for a canonical (diffusers) motion-module key, with or without the block prefix. */
export function isDiffusersMotionKey(key: string): boolean {
  return DIFFUSERS_MODULE_RE.test(key);
}

/**
 * Version from canonical motion keys/shapes (+ optional file name hint). Rules (A1111, ComfyUI and diffusers'
 * single-file loader use the same evidence):
 *  - a mid-block module ⇒ v2 topology: v2, AnimateDiff-Lightning and AnimateLCM share keys and shapes; only the
 *    file name (or the user) tells them apart; default v2.
 *  - no mid block: positional table of 24 rows ⇒ v1, 32 ⇒ v3; no table ⇒ file name, else default v3
 *    (v1 and v3 have identical keys; v1 differs in its ResNet GroupNorm semantics, which the user can choose).
 */
export function detectMotionVersion(
  shapes: ReadonlyMap<string, readonly number[]>,
  fileName = '',
  userChoice?: MotionVersion,
): MotionModuleInfo {
  let hasMid = false;
  let peLength: number | null = null;
  for (const [k, s] of shapes) {
    if (k.startsWith('mid_block.motion_modules.')) hasMid = true;
    if (k.endsWith('.pos_embed.pe') && s.length === 3 && peLength === null) peLength = s[1];
  }
  const name = fileName.toLowerCase();
  let version: MotionVersion, alternatives: MotionVersion[], basis: MotionModuleInfo['basis'];
  if (hasMid) {
    alternatives = ['v2', 'lightning', 'lcm'];
    if (/lightning/.test(name)) { version = 'lightning'; basis = 'file-name'; }
    else if (/lcm/.test(name)) { version = 'lcm'; basis = 'file-name'; }
    else if (/v2|v1-5-2/.test(name)) { version = 'v2'; basis = 'file-name'; }
    else { version = 'v2'; basis = 'default'; }
  } else {
    alternatives = ['v1', 'v3'];
    if (peLength === 24) { version = 'v1'; basis = 'keys'; alternatives = ['v1']; }
    else if (peLength === 32) { version = 'v3'; basis = 'keys'; alternatives = ['v3']; }
    else if (/v3|v1-5-3/.test(name)) { version = 'v3'; basis = 'file-name'; }
    else if (/mm_sd_v1[45]\b|mm_sd_v1[45]\.|v1-5(?!-)/.test(name)) { version = 'v1'; basis = 'file-name'; }
    else { version = 'v3'; basis = 'default'; }
  }
  if (userChoice) {
    version = userChoice;
    basis = 'user';
  }
  return {
    version,
    alternatives,
    basis,
    hasMidBlock: hasMid,
    peLength,
    groupNormSemantics: { resnetPooledOverFrames: version === 'v1' },
  };
}
