// A float64 CPU reference of the UNet with motion modules (diffusers UNetMotionModel, official per-frame
// GroupNorms), written from the diffusers definitions with plain loops: an independent check of src/models/unet.ts
// for topologies and latent sizes the oracle does not cover. Also: random canonical weights for any topology.
//
// Layout: activations NHWC [b*F, h, w, C] as Float64Array; weights in PyTorch layouts (conv (Cout, Cin, kh, kw),
// linear (out, in)).
import { sinusoidalPositionalEncoding } from '../../src/ops/positional-encoding';
import { activateCpu } from '../../src/ops/activation';
import { hostF32, memoryWeightMap, type WeightMap } from '../../src/weights/weight-map';
import { attentionRef, temporalAttentionRef } from './attention';
import { conv2dRef, linearRef } from './gemm';
import { groupNormRef, layerNormRef } from './norms';
import { timestepEmbeddingRef, upsampleToRef } from './elementwise';
import { randn } from '../random';

/** What a tiny UNet of any topology is made of (the counterpart of diffusers' unet_config + motion adapter). */
export interface TinyUNetSpec {
  /** block_out_channels: one down block (and one mirrored up block) per entry. */
  channels: number[];
  /** CrossAttn (true) or plain (false) down blocks; up blocks mirror them. */
  attention: boolean[];
  layersPerBlock: number;
  crossDim: number;
  /** Spatial heads per down block. */
  heads: number[];
  groups: number;
  motionHeads: number;
  motionGroups: number;
  /** A motion module in the mid block (v2-class). */
  midMotion: boolean;
  inChannels?: number;
}

type Stored = { shape: number[]; data: Float32Array };

/** Random canonical (diffusers UNetMotionModel) weights for `spec`: conv/linear ~ N(0, 1/fan_in), norms ~ 1 + N(0, 0.1). */
export function tinyUNetWeights(spec: TinyUNetSpec, seed: number): WeightMap & { value(name: string): Float32Array } {
  const m = new Map<string, Stored>();
  let s = seed;
  const put = (name: string, shape: number[], fanIn: number, kind: 'w' | 'b' | 'g' | 'nb') => {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = randn(n, s++);
    const data = kind === 'w' ? r.map((v) => v / Math.sqrt(fanIn)) : kind === 'g' ? r.map((v) => 1 + 0.1 * v) : r.map((v) => 0.1 * v);
    m.set(name, { shape, data });
  };
  const conv = (p: string, co: number, ci: number, k: number) => { put(`${p}.weight`, [co, ci, k, k], ci * k * k, 'w'); put(`${p}.bias`, [co], 1, 'b'); };
  const lin = (p: string, o: number, i: number, bias = true) => { put(`${p}.weight`, [o, i], i, 'w'); if (bias) put(`${p}.bias`, [o], 1, 'b'); };
  const norm = (p: string, c: number) => { put(`${p}.weight`, [c], 1, 'g'); put(`${p}.bias`, [c], 1, 'nb'); };
  const c0 = spec.channels[0];
  const temb = 4 * c0;
  const resnet = (p: string, ci: number, co: number) => {
    norm(`${p}.norm1`, ci); conv(`${p}.conv1`, co, ci, 3); lin(`${p}.time_emb_proj`, co, temb);
    norm(`${p}.norm2`, co); conv(`${p}.conv2`, co, co, 3);
    if (ci !== co) conv(`${p}.conv_shortcut`, co, ci, 1);
  };
  const ff = (p: string, c: number) => { lin(`${p}.ff.net.0.proj`, 8 * c, c); lin(`${p}.ff.net.2`, c, 4 * c); };
  const transformer = (p: string, c: number) => {
    norm(`${p}.norm`, c); lin(`${p}.proj_in`, c, c);
    const b = `${p}.transformer_blocks.0`;
    norm(`${b}.norm1`, c); for (const x of ['to_q', 'to_k', 'to_v']) lin(`${b}.attn1.${x}`, c, c, false); lin(`${b}.attn1.to_out.0`, c, c);
    norm(`${b}.norm2`, c); lin(`${b}.attn2.to_q`, c, c, false); lin(`${b}.attn2.to_k`, c, spec.crossDim, false); lin(`${b}.attn2.to_v`, c, spec.crossDim, false);
    lin(`${b}.attn2.to_out.0`, c, c); norm(`${b}.norm3`, c); ff(b, c);
    lin(`${p}.proj_out`, c, c);
  };
  const motion = (p: string, c: number) => {
    norm(`${p}.norm`, c); lin(`${p}.proj_in`, c, c);
    const b = `${p}.transformer_blocks.0`;
    for (const a of ['attn1', 'attn2']) {
      norm(`${b}.${a === 'attn1' ? 'norm1' : 'norm2'}`, c);
      for (const x of ['to_q', 'to_k', 'to_v']) lin(`${b}.${a}.${x}`, c, c, false);
      lin(`${b}.${a}.to_out.0`, c, c);
    }
    norm(`${b}.norm3`, c); ff(b, c);
    lin(`${p}.proj_out`, c, c);
  };
  conv('conv_in', c0, spec.inChannels ?? 4, 3);
  lin('time_embedding.linear_1', temb, c0);
  lin('time_embedding.linear_2', temb, temb);
  const n = spec.channels.length;
  const stack = [c0];
  let ch = c0;
  spec.channels.forEach((c, i) => {
    for (let j = 0; j < spec.layersPerBlock; j++) {
      const p = `down_blocks.${i}`;
      resnet(`${p}.resnets.${j}`, ch, c);
      if (spec.attention[i]) transformer(`${p}.attentions.${j}`, c);
      motion(`${p}.motion_modules.${j}`, c);
      ch = c;
      stack.push(c);
    }
    if (i < n - 1) { conv(`down_blocks.${i}.downsamplers.0.conv`, c, c, 3); stack.push(c); }
  });
  resnet('mid_block.resnets.0', ch, ch);
  transformer('mid_block.attentions.0', ch);
  if (spec.midMotion) motion('mid_block.motion_modules.0', ch);
  resnet('mid_block.resnets.1', ch, ch);
  [...spec.channels].reverse().forEach((c, i) => {
    const p = `up_blocks.${i}`;
    for (let j = 0; j <= spec.layersPerBlock; j++) {
      const skip = stack.pop()!;
      resnet(`${p}.resnets.${j}`, ch + skip, c);
      if (spec.attention[n - 1 - i]) transformer(`${p}.attentions.${j}`, c);
      motion(`${p}.motion_modules.${j}`, c);
      ch = c;
    }
    if (i < n - 1) conv(`${p}.upsamplers.0.conv`, c, c, 3);
  });
  norm('conv_norm_out', c0);
  conv('conv_out', spec.inChannels ?? 4, c0, 3);
  const get = (k: string) => {
    const v = m.get(k);
    if (!v) throw new Error(`tinyUNetWeights: no ${k}`);
    return v.data;
  };
  const map = memoryWeightMap(new Map([...m].map(([k, v]) => [k, hostF32(f32(v.data), v.shape)])));
  return { ...map, value: get };
}

const f32 = (a: ArrayLike<number>) => a as unknown as Float32Array;

/** NHWC activation with its geometry. */
interface Act { x: Float64Array; n: number; h: number; w: number; c: number }

/**
 * The reference forward: latents NHWC [b*F, h, w, Cin] → noise prediction, same layout. Per-frame GroupNorms
 * everywhere (official AnimateDiff v2/v3 semantics); the up path upsamples to each next skip's size (diffusers'
 * upsample_size).
 */
export function unetRef(
  W: { value(name: string): Float32Array }, spec: TinyUNetSpec, latents: ArrayLike<number>, b: number, frames: number, h: number, w: number,
  timesteps: number[], text: ArrayLike<number>, tokens: number,
): Float64Array {
  const g = (k: string) => W.value(k);
  const c0 = spec.channels[0];
  const n = b * frames;
  // time embedding per sample → silu(temb) [b, 4c0]
  const feats = timestepEmbeddingRef(timesteps, c0, true, 0);
  const t1 = linearRef(f32(feats), g('time_embedding.linear_1.weight'), b, c0, 4 * c0, { bias: g('time_embedding.linear_1.bias'), act: 'silu' });
  const temb = linearRef(f32(t1), g('time_embedding.linear_2.weight'), b, 4 * c0, 4 * c0, { bias: g('time_embedding.linear_2.bias'), act: 'silu' });

  const conv = (p: string, a: Act, co: number, k: number, stride = 1): Act => {
    const r = conv2dRef(f32(a.x), g(`${p}.weight`), a.n, a.h, a.w, a.c, co, k, k, stride, (k - 1) / 2, { bias: g(`${p}.bias`) });
    return { x: r.out, n: a.n, h: r.Ho, w: r.Wo, c: co };
  };
  const gn = (p: string, a: Act, groups: number, eps: number, act: 'none' | 'silu'): Act =>
    ({ ...a, x: groupNormRef(a.x, a.n, a.c, g(`${p}.weight`), g(`${p}.bias`), groups, eps, 1, act) });
  const lin = (p: string, x: ArrayLike<number>, rows: number, i: number, o: number, bias = true): Float64Array =>
    linearRef(f32(x), g(`${p}.weight`), rows, i, o, bias ? { bias: g(`${p}.bias`) } : {});
  const add = (a: Float64Array, b2: Float64Array) => a.map((v, i) => v + b2[i]);

  const resnet = (p: string, a: Act): Act => {
    const co = W.value(`${p}.conv1.weight`).length / (9 * a.c);
    let hh = conv(`${p}.conv1`, gn(`${p}.norm1`, a, spec.groups, 1e-5, 'silu'), co, 3);
    const tp = lin(`${p}.time_emb_proj`, temb, b, 4 * c0, co);
    const per = hh.h * hh.w;
    hh = { ...hh, x: hh.x.map((v, i) => v + tp[Math.floor(Math.floor(i / co) / (frames * per)) * co + (i % co)]) };
    hh = conv(`${p}.conv2`, gn(`${p}.norm2`, hh, spec.groups, 1e-5, 'silu'), co, 3);
    const short = a.c === co ? a.x : conv(`${p}.conv_shortcut`, a, co, 1).x;
    return { ...hh, x: add(hh.x, short) };
  };
  const ffRef = (p: string, t: Float64Array, rows: number, c: number) => {
    const y = layerNormRef(t, c, g(`${p}.norm3.weight`), g(`${p}.norm3.bias`), 1e-5);
    const hid = lin(`${p}.ff.net.0.proj`, y, rows, c, 8 * c);
    const gated = new Float64Array(rows * 4 * c);
    for (let r = 0; r < rows; r++) for (let d = 0; d < 4 * c; d++) gated[r * 4 * c + d] = hid[r * 8 * c + d] * activateCpu(hid[r * 8 * c + 4 * c + d], 'gelu');
    return add(t, lin(`${p}.ff.net.2`, gated, rows, 4 * c, c));
  };
  const transformer = (p: string, a: Act, heads: number): Act => {
    const { c } = a;
    const L = a.h * a.w, rows = a.n * L;
    let t = lin(`${p}.proj_in`, gn(`${p}.norm`, a, spec.groups, 1e-6, 'none').x, rows, c, c);
    const bp = `${p}.transformer_blocks.0`;
    let y = layerNormRef(t, c, g(`${bp}.norm1.weight`), g(`${bp}.norm1.bias`), 1e-5);
    const q = lin(`${bp}.attn1.to_q`, y, rows, c, c, false), k = lin(`${bp}.attn1.to_k`, y, rows, c, c, false), v = lin(`${bp}.attn1.to_v`, y, rows, c, c, false);
    let o = attentionRef(q, k, v, { b: a.n, nq: L, nk: L, heads, d: c / heads });
    t = add(t, lin(`${bp}.attn1.to_out.0`, o, rows, c, c));
    y = layerNormRef(t, c, g(`${bp}.norm2.weight`), g(`${bp}.norm2.bias`), 1e-5);
    const q2 = lin(`${bp}.attn2.to_q`, y, rows, c, c, false);
    const k2 = lin(`${bp}.attn2.to_k`, text, b * tokens, spec.crossDim, c, false), v2 = lin(`${bp}.attn2.to_v`, text, b * tokens, spec.crossDim, c, false);
    // each frame attends to its sample's text
    o = new Float64Array(rows * c);
    for (let f = 0; f < a.n; f++) {
      const s = Math.floor(f / frames);
      const of = attentionRef(q2.subarray(f * L * c, (f + 1) * L * c), k2.subarray(s * tokens * c, (s + 1) * tokens * c), v2.subarray(s * tokens * c, (s + 1) * tokens * c), { b: 1, nq: L, nk: tokens, heads, d: c / heads });
      o.set(of, f * L * c);
    }
    t = add(t, lin(`${bp}.attn2.to_out.0`, o, rows, c, c));
    t = ffRef(bp, t, rows, c);
    return { ...a, x: add(lin(`${p}.proj_out`, t, rows, c, c), a.x) };
  };
  const motion = (p: string, a: Act): Act => {
    const { c } = a;
    const P = a.h * a.w, rows = a.n * P;
    let t = lin(`${p}.proj_in`, gn(`${p}.norm`, a, spec.motionGroups, 1e-6, 'none').x, rows, c, c);
    const pe = sinusoidalPositionalEncoding(frames, c);
    const bp = `${p}.transformer_blocks.0`;
    for (const [nm, at] of [['norm1', 'attn1'], ['norm2', 'attn2']]) {
      const y = layerNormRef(t, c, g(`${bp}.${nm}.weight`), g(`${bp}.${nm}.bias`), 1e-5);
      for (let r = 0; r < rows; r++) { const f = Math.floor(r / P) % frames; for (let ch = 0; ch < c; ch++) y[r * c + ch] += pe[f * c + ch]; }
      const qkv = new Float64Array(rows * 3 * c);
      ['to_q', 'to_k', 'to_v'].forEach((x, i) => {
        const pr = lin(`${bp}.${at}.${x}`, y, rows, c, c, false);
        for (let r = 0; r < rows; r++) for (let ch = 0; ch < c; ch++) qkv[r * 3 * c + i * c + ch] = pr[r * c + ch];
      });
      const o = temporalAttentionRef(qkv, { b, frames, positions: P, heads: spec.motionHeads, c });
      t = add(t, lin(`${bp}.${at}.to_out.0`, o, rows, c, c));
    }
    t = ffRef(bp, t, rows, c);
    return { ...a, x: add(lin(`${p}.proj_out`, t, rows, c, c), a.x) };
  };

  let hs: Act = conv('conv_in', { x: Float64Array.from(latents), n, h, w, c: spec.inChannels ?? 4 }, c0, 3);
  const skips: Act[] = [hs];
  const nb = spec.channels.length;
  spec.channels.forEach((c, i) => {
    for (let j = 0; j < spec.layersPerBlock; j++) {
      hs = resnet(`down_blocks.${i}.resnets.${j}`, hs);
      if (spec.attention[i]) hs = transformer(`down_blocks.${i}.attentions.${j}`, hs, spec.heads[i]);
      hs = motion(`down_blocks.${i}.motion_modules.${j}`, hs);
      skips.push(hs);
    }
    if (i < nb - 1) { hs = conv(`down_blocks.${i}.downsamplers.0.conv`, hs, c, 3, 2); skips.push(hs); }
  });
  hs = resnet('mid_block.resnets.0', hs);
  hs = transformer('mid_block.attentions.0', hs, spec.heads[nb - 1]);
  if (spec.midMotion) hs = motion('mid_block.motion_modules.0', hs);
  hs = resnet('mid_block.resnets.1', hs);
  [...spec.channels].reverse().forEach((c, i) => {
    const p = `up_blocks.${i}`;
    for (let j = 0; j <= spec.layersPerBlock; j++) {
      const skip = skips.pop()!;
      const cat = new Float64Array(hs.n * hs.h * hs.w * (hs.c + skip.c));
      for (let r = 0; r < hs.n * hs.h * hs.w; r++) {
        cat.set(hs.x.subarray(r * hs.c, (r + 1) * hs.c), r * (hs.c + skip.c));
        cat.set(skip.x.subarray(r * skip.c, (r + 1) * skip.c), r * (hs.c + skip.c) + hs.c);
      }
      hs = resnet(`${p}.resnets.${j}`, { ...hs, x: cat, c: hs.c + skip.c });
      if (spec.attention[nb - 1 - i]) hs = transformer(`${p}.attentions.${j}`, hs, spec.heads[nb - 1 - i]);
      hs = motion(`${p}.motion_modules.${j}`, hs);
    }
    if (i < nb - 1) {
      const next = skips[skips.length - 1];
      const up = upsampleToRef(hs.x, hs.n, hs.h, hs.w, hs.c, next.h, next.w);
      hs = conv(`${p}.upsamplers.0.conv`, { ...hs, x: up, h: next.h, w: next.w }, c, 3);
    }
  });
  return conv('conv_out', gn('conv_norm_out', hs, spec.groups, 1e-5, 'silu'), spec.inChannels ?? 4, 3).x;
}
