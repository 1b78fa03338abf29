// LoRA files (MotionLoRA and SD LoRA) parsed to (target weight, down, up, alpha) pairs and merged into canonical
// weights at read time:  W_eff = W + strength · scale · (up @ down),  scale = alpha / rank when the file stores an
// alpha (kohya, some PEFT exports), else 1 (MotionLoRA and diffusers attention-processor LoRA have none).
// Shapes: down (r, in) or (r, Cin, kh, kw); up (out, r) or (out, r, 1, 1); the product (out, in·kh·kw) is added to the
// target viewed as a matrix of the same element count (linear (out,in), conv (out,Cin,kh,kw), or SD1.5's 1×1-conv
// proj_in/proj_out (out,in,1,1) with a linear LoRA).
//
// Key families:
//   original MotionLoRA  …motion_modules.j.temporal_transformer.transformer_blocks.t.attention_blocks.a.processor.to_q_lora.down.weight
//   diffusers processor  [unet.]…attn1.processor.to_q_lora.down.weight (also the v3 domain adapter), to_out → to_out.0
//   diffusers text       text_encoder.…self_attn.q_proj.lora_linear_layer.down.weight
//   PEFT                 [unet.|text_encoder.|base_model.model.]<module>.lora_A.weight / lora_B.weight [+ <module>.alpha]
//   kohya                lora_unet_<module_with_underscores>.lora_down.weight / lora_up.weight / .alpha ; lora_te_… for CLIP
//                        (module names resolved against the base model's canonical names, diffusers or LDM style)

import { WeightFileError, listSome } from './errors';
import { checkFinite } from './finite';
import type { SafetensorsFile } from './safetensors';
import { diffusersUnetKeyToLdm } from './layouts/unet';
import type { UnetConfig } from './layouts/expected';
import { hostF32, weightMap, type WeightMap } from './weight-map';

export type LoraTarget = 'unet' | 'text';

export interface LoraPair {
  component: LoraTarget;
  /** Canonical weight name, e.g. `down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q.weight`. */
  target: string;
  downKey: string;
  upKey: string;
  rank: number;
  /** alpha / rank, or 1 without alpha. */
  scale: number;
}

export interface LoraFile {
  name: string;
  file: SafetensorsFile;
  kind: 'motion-lora' | 'sd-lora';
  layout: 'original' | 'diffusers-processor' | 'peft' | 'kohya';
  pairs: LoraPair[];
}

/** Base-model names a kohya LoRA may refer to (canonical and, for the UNet, the LDM spelling). */
export interface LoraBase {
  unet?: WeightMap;
  unetConfig?: UnetConfig;
  text?: WeightMap;
}

const ATTN_OUT = (w: string) => (w === 'to_out' ? 'to_out.0' : w);

interface Half { module: string; component: LoraTarget; role: 'down' | 'up' | 'alpha'; layout: LoraFile['layout'] }

function parseKey(key: string, kohya: Map<string, { component: LoraTarget; module: string }>): Half | null | 'kohya-unresolved' {
  let m: RegExpExecArray | null;
  if ((m = /^(.*?)temporal_transformer\.transformer_blocks\.(\d+)\.attention_blocks\.([01])\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/.exec(key))) {
    return { module: `${m[1]}transformer_blocks.${m[2]}.attn${Number(m[3]) + 1}.${ATTN_OUT(m[4])}`, component: 'unet', role: m[5] as 'down' | 'up', layout: 'original' };
  }
  if ((m = /^(?:unet\.)?(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/.exec(key))) {
    return { module: `${m[1]}.${ATTN_OUT(m[2])}`, component: 'unet', role: m[3] as 'down' | 'up', layout: 'diffusers-processor' };
  }
  if ((m = /^text_encoder\.(.+)\.lora_linear_layer\.(down|up)\.weight$/.exec(key))) {
    return { module: m[1], component: 'text', role: m[2] as 'down' | 'up', layout: 'diffusers-processor' };
  }
  if ((m = /^(unet\.|text_encoder\.|base_model\.model\.)?(.+?)\.(lora_A\.weight|lora_B\.weight|alpha)$/.exec(key)) && !key.startsWith('lora_')) {
    const component: LoraTarget = m[1] === 'text_encoder.' || m[2].startsWith('text_model.') ? 'text' : 'unet';
    const role = m[3] === 'lora_A.weight' ? 'down' : m[3] === 'lora_B.weight' ? 'up' : 'alpha';
    return { module: m[2], component, role, layout: 'peft' };
  }
  if ((m = /^lora_(unet|te\d?)_(.+?)\.(lora_down\.weight|lora_up\.weight|alpha)$/.exec(key))) {
    const hit = kohya.get(`${m[1] === 'unet' ? 'unet' : 'te'}:${m[2]}`);
    if (!hit) return 'kohya-unresolved';
    const role = m[3] === 'lora_down.weight' ? 'down' : m[3] === 'lora_up.weight' ? 'up' : 'alpha';
    return { module: hit.module, component: hit.component, role, layout: 'kohya' };
  }
  return null;
}

/** kohya flattened module names (dots → underscores) of the base model, diffusers and LDM spellings. */
function kohyaTable(base: LoraBase): Map<string, { component: LoraTarget; module: string }> {
  const t = new Map<string, { component: LoraTarget; module: string }>();
  for (const name of base.unet?.names() ?? []) {
    if (!name.endsWith('.weight')) continue;
    const module = name.slice(0, -'.weight'.length);
    t.set(`unet:${module.replace(/\./g, '_')}`, { component: 'unet', module });
    if (base.unetConfig) {
      const ldm = diffusersUnetKeyToLdm(name, base.unetConfig.layersPerBlock, base.unetConfig.upHasAttention);
      if (ldm) t.set(`unet:${ldm.slice(0, -'.weight'.length).replace(/\./g, '_')}`, { component: 'unet', module });
    }
  }
  for (const name of base.text?.names() ?? []) {
    if (!name.endsWith('.weight')) continue;
    const module = name.slice(0, -'.weight'.length);
    t.set(`te:${module.replace(/\./g, '_')}`, { component: 'text', module });
    // Older kohya files omit `text_model_`.
    t.set(`te:${module.replace(/^text_model\./, '').replace(/\./g, '_')}`, { component: 'text', module });
  }
  return t;
}

/** Parses a LoRA file into merge pairs (reads only the scalar alpha tensors). */
export async function parseLora(file: SafetensorsFile, base: LoraBase = {}): Promise<LoraFile> {
  const kohya = kohyaTable(base);
  const groups = new Map<string, { component: LoraTarget; layout: LoraFile['layout']; down?: string; up?: string; alpha?: string }>();
  const unresolved: string[] = [];
  const unsupported: string[] = [];
  for (const key of file.tensors.keys()) {
    if (/hada_w[12]|lokr_w[12]|\.diff$|\.diff_b$|dora_scale/.test(key)) { unsupported.push(key); continue; }
    const h = parseKey(key, kohya);
    if (h === 'kohya-unresolved') { unresolved.push(key); continue; }
    if (!h) { unsupported.push(key); continue; }
    const id = `${h.component}:${h.module}`;
    const g = groups.get(id) ?? { component: h.component, layout: h.layout };
    g[h.role] = key;
    groups.set(id, g);
  }
  if (unsupported.length && groups.size === 0) {
    throw new WeightFileError('unknown-layout', file.name, `expected LoRA tensors (lora_down/lora_up, lora_A/lora_B or *_lora.down/up); found ${listSome(unsupported)} (LoHa/LoKr/DoRA are not supported)`);
  }
  if (unsupported.length) {
    throw new WeightFileError('unknown-layout', file.name, `unsupported LoRA tensors: ${listSome(unsupported)} (LoHa/LoKr/DoRA/full-diff tensors are not supported)`);
  }
  if (unresolved.length) {
    throw new WeightFileError('lora-mismatch', file.name, `${unresolved.length} kohya LoRA module names match no weight of the loaded base model: ${listSome(unresolved)}`);
  }
  const pairs: LoraPair[] = [];
  let layout: LoraFile['layout'] | null = null;
  for (const [id, g] of groups) {
    if (!g.down || !g.up) throw new WeightFileError('lora-mismatch', file.name, `LoRA module "${id.split(':')[1]}" has ${g.down ? 'a down' : 'an up'} matrix but no ${g.down ? 'up' : 'down'} matrix`);
    const down = file.tensors.get(g.down)!.shape, up = file.tensors.get(g.up)!.shape;
    const rank = down[0];
    const upOk = (up.length === 2 || (up.length === 4 && up[2] === 1 && up[3] === 1)) && up[1] === rank;
    if (!(down.length === 2 || down.length === 4) || !upOk || rank === 0) {
      throw new WeightFileError('lora-mismatch', file.name, `LoRA module "${id.split(':')[1]}": expected down (r, in[, kh, kw]) and up (out, r[, 1, 1]) with the same r; found down ${JSON.stringify(down)}, up ${JSON.stringify(up)}`);
    }
    let scale = 1;
    if (g.alpha) {
      const a = await file.read(g.alpha);
      if (a.length !== 1 || !Number.isFinite(a[0])) throw new WeightFileError('lora-mismatch', file.name, `"${g.alpha}" must be one finite number, found ${a.length} values`);
      scale = a[0] / rank;
    }
    const module = id.slice(id.indexOf(':') + 1);
    pairs.push({ component: g.component, target: `${module}.weight`, downKey: g.down, upKey: g.up, rank, scale });
    layout ??= g.layout;
  }
  if (pairs.length === 0) throw new WeightFileError('unknown-layout', file.name, 'expected LoRA tensors, found none');
  const motionOnly = pairs.every((p) => p.component === 'unet' && p.target.includes('motion_modules.'));
  return { name: file.name, file, kind: motionOnly ? 'motion-lora' : 'sd-lora', layout: layout!, pairs };
}

/** The merged tensor values: W + strength·scale·(up @ down), accumulated in f64 (JS numbers). */
export function applyLoraDelta(w: Float32Array, down: Float32Array, up: Float32Array, rank: number, factor: number): Float32Array {
  const inner = down.length / rank, out = up.length / rank;
  if (out * inner !== w.length) throw new Error(`LoRA delta (${out}×${inner}) does not match a weight of ${w.length} elements`);
  const res = new Float32Array(w.length);
  const row = new Float64Array(inner);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let r = 0; r < rank; r++) {
      const u = up[o * rank + r];
      if (u === 0) continue;
      const base = r * inner;
      for (let i = 0; i < inner; i++) row[i] += u * down[base + i];
    }
    const off = o * inner;
    for (let i = 0; i < inner; i++) res[off + i] = w[off + i] + factor * row[i];
  }
  return res;
}

export interface MergeResult {
  weights: WeightMap;
  /** Targets merged. */
  applied: number;
  /** Targets the base does not have (e.g. a v2 MotionLoRA's mid-block layers on a v3 module), skipped. */
  skipped: string[];
}

/**
 * Wraps `base` so that reading an affected weight returns it with the LoRA merged; other weights pass through.
 * Only the pairs of `component` are used. Shapes are checked here, before any read.
 */
export function mergeLora(base: WeightMap, lora: LoraFile, strength: number, component: LoraTarget = 'unet'): MergeResult {
  if (!Number.isFinite(strength)) throw new WeightFileError('lora-mismatch', lora.name, `LoRA strength must be a finite number, got ${strength}`);
  const byTarget = new Map<string, LoraPair[]>();
  const skipped: string[] = [];
  for (const p of lora.pairs) {
    if (p.component !== component) continue;
    if (!base.has(p.target)) { skipped.push(p.target); continue; }
    const numel = base.shape(p.target).reduce((a, b) => a * b, 1);
    const down = lora.file.tensors.get(p.downKey)!, up = lora.file.tensors.get(p.upKey)!;
    if ((down.numel / p.rank) * (up.numel / p.rank) !== numel || up.shape[0] !== base.shape(p.target)[0]) {
      throw new WeightFileError('lora-mismatch', lora.name, `LoRA for "${p.target}": up ${JSON.stringify(up.shape)} @ down ${JSON.stringify(down.shape)} does not fit the weight's shape ${JSON.stringify(base.shape(p.target))} (a LoRA for another model size?)`);
    }
    const list = byTarget.get(p.target) ?? [];
    list.push(p);
    byTarget.set(p.target, list);
  }
  const considered = lora.pairs.filter((p) => p.component === component).length;
  if (considered > 0 && byTarget.size === 0) {
    throw new WeightFileError('lora-mismatch', lora.name, `none of the ${considered} LoRA targets exist in the loaded model (e.g. "${skipped[0]}")`);
  }
  // Untouched weights pass through in their stored precision; merged ones are f32 (merged before any quantization).
  const weights = weightMap({
    has: (n) => base.has(n),
    shape: (n) => base.shape(n),
    names: () => base.names(),
    async get(name) {
      const pairs = byTarget.get(name);
      if (!pairs) return base.get(name);
      let w = await base.read(name);
      for (const p of pairs) {
        const [down, up] = await Promise.all([lora.file.read(p.downKey), lora.file.read(p.upKey)]);
        checkFinite(down, 'f32', lora.name, p.downKey);
        checkFinite(up, 'f32', lora.name, p.upKey);
        w = applyLoraDelta(w, down, up, p.rank, strength * p.scale);
        checkFinite(w, 'f32', lora.name, p.upKey, ` merged into "${name}" at strength ${strength}`);
      }
      return hostF32(w, base.shape(name));
    },
  });
  return { weights, applied: byTarget.size, skipped };
}
