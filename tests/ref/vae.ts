// A float64 CPU reference of the VAE decoder (diffusers AutoencoderKL: post_quant_conv + Decoder), written from the
// diffusers definitions with plain loops, whole images: an independent check of src/models/vae-decoder.ts for
// topologies the oracle does not cover. Also: random canonical weights for any decoder topology.
//
// Layout: activations NHWC [n, h, w, C] as Float64Array; weights in PyTorch layouts (conv (Cout, Cin, kh, kw),
// linear (out, in)).
import { hostF32, memoryWeightMap, type WeightMap } from '../../src/weights/weight-map';
import { randn } from '../random';
import { attentionRef } from './attention';
import { upsampleRef } from './elementwise';
import { conv2dRef, linearRef } from './gemm';
import { groupNormRef } from './norms';

/** A decoder topology (diffusers vae_config): block_out_channels, layers_per_block, norm_num_groups. */
export interface TinyVaeSpec {
  channels: number[];
  layersPerBlock: number;
  groups: number;
  latentChannels: number;
}

const EPS = 1e-6;
const f32 = (a: ArrayLike<number>) => a as unknown as Float32Array;

/** Random canonical decoder weights: conv/linear ~ N(0, 1/fan_in), norm weights 1 + N(0, 0.1), biases N(0, 0.1). */
export function tinyVaeWeights(spec: TinyVaeSpec, seed: number): WeightMap & { value(name: string): Float32Array } {
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  let s = seed;
  const put = (name: string, shape: number[], fanIn: number, kind: 'w' | 'b' | 'g') => {
    const r = randn(shape.reduce((a, b) => a * b, 1), s++);
    m.set(name, { shape, data: kind === 'w' ? r.map((v) => v / Math.sqrt(fanIn)) : kind === 'g' ? r.map((v) => 1 + 0.1 * v) : r.map((v) => 0.1 * v) });
  };
  const conv = (p: string, co: number, ci: number, k: number) => { put(`${p}.weight`, [co, ci, k, k], ci * k * k, 'w'); put(`${p}.bias`, [co], 1, 'b'); };
  const norm = (p: string, c: number) => { put(`${p}.weight`, [c], 1, 'g'); put(`${p}.bias`, [c], 1, 'b'); };
  const resnet = (p: string, ci: number, co: number) => {
    norm(`${p}.norm1`, ci); conv(`${p}.conv1`, co, ci, 3); norm(`${p}.norm2`, co); conv(`${p}.conv2`, co, co, 3);
    if (ci !== co) conv(`${p}.conv_shortcut`, co, ci, 1);
  };
  const lc = spec.latentChannels;
  conv('post_quant_conv', lc, lc, 1);
  let ch = spec.channels[spec.channels.length - 1];
  conv('decoder.conv_in', ch, lc, 3);
  resnet('decoder.mid_block.resnets.0', ch, ch);
  const a = 'decoder.mid_block.attentions.0';
  norm(`${a}.group_norm`, ch);
  for (const x of ['to_q', 'to_k', 'to_v', 'to_out.0']) { put(`${a}.${x}.weight`, [ch, ch], ch, 'w'); put(`${a}.${x}.bias`, [ch], 1, 'b'); }
  resnet('decoder.mid_block.resnets.1', ch, ch);
  [...spec.channels].reverse().forEach((c, i) => {
    for (let j = 0; j <= spec.layersPerBlock; j++) { resnet(`decoder.up_blocks.${i}.resnets.${j}`, ch, c); ch = c; }
    if (i < spec.channels.length - 1) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, c, c, 3);
  });
  norm('decoder.conv_norm_out', ch);
  conv('decoder.conv_out', 3, ch, 3);
  const map = memoryWeightMap(new Map([...m].map(([k, v]) => [k, hostF32(v.data, v.shape)])));
  return { ...map, value: (k) => m.get(k)!.data };
}

interface Act { x: Float64Array; n: number; h: number; w: number; c: number }

/** The reference decoder on scaled latents z NHWC [n, h, w, latentChannels] → image NHWC [n, H, W, 3]. */
export function vaeDecoderRef(W: WeightMap & { value(name: string): Float32Array }, spec: TinyVaeSpec, z: ArrayLike<number>, n: number, h: number, w: number): Float64Array {
  const g = (k: string) => W.value(k);
  const conv = (p: string, a: Act, k: number, residual?: Float64Array): Act => {
    const co = g(`${p}.bias`).length;
    const { out } = conv2dRef(f32(a.x), g(`${p}.weight`), a.n, a.h, a.w, a.c, co, k, k, 1, (k - 1) / 2, { bias: g(`${p}.bias`), residual: residual && f32(residual) });
    return { ...a, x: out, c: co };
  };
  const gn = (p: string, a: Act, act: 'none' | 'silu'): Act => ({ ...a, x: groupNormRef(a.x, a.n, a.c, g(`${p}.weight`), g(`${p}.bias`), spec.groups, EPS, 1, act) });
  const resnet = (p: string, a: Act): Act => {
    const h1 = conv(`${p}.conv1`, gn(`${p}.norm1`, a, 'silu'), 3);
    const short = W.has(`${p}.conv_shortcut.weight`) ? conv(`${p}.conv_shortcut`, a, 1).x : a.x;
    return conv(`${p}.conv2`, gn(`${p}.norm2`, h1, 'silu'), 3, short);
  };
  let a: Act = { x: Float64Array.from(z), n, h, w, c: spec.latentChannels };
  a = conv('post_quant_conv', a, 1);
  a = conv('decoder.conv_in', a, 3);
  a = resnet('decoder.mid_block.resnets.0', a);
  // Mid-block attention: one head over the h·w tokens of each frame, x + to_out(attn(GN(x))).
  const at = 'decoder.mid_block.attentions.0';
  const normed = gn(`${at}.group_norm`, a, 'none');
  const rows = a.n * a.h * a.w;
  const proj = (x: string) => linearRef(f32(normed.x), g(`${at}.${x}.weight`), rows, a.c, a.c, { bias: g(`${at}.${x}.bias`) });
  const o = attentionRef(proj('to_q'), proj('to_k'), proj('to_v'), { b: a.n, nq: a.h * a.w, nk: a.h * a.w, heads: 1, d: a.c });
  a = { ...a, x: linearRef(f32(o), g(`${at}.to_out.0.weight`), rows, a.c, a.c, { bias: g(`${at}.to_out.0.bias`), residual: f32(a.x) }) };
  a = resnet('decoder.mid_block.resnets.1', a);
  spec.channels.forEach((_, i) => {
    for (let j = 0; j <= spec.layersPerBlock; j++) a = resnet(`decoder.up_blocks.${i}.resnets.${j}`, a);
    if (i < spec.channels.length - 1) {
      a = { ...a, x: upsampleRef(a.x, a.n, a.h, a.w, a.c), h: 2 * a.h, w: 2 * a.w };
      a = conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, a, 3);
    }
  });
  return conv('decoder.conv_out', gn('decoder.conv_norm_out', a, 'silu'), 3).x;
}
