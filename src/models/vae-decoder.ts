// The SD1.5 VAE decoder (diffusers AutoencoderKL: post_quant_conv + Decoder), NHWC on the GPU, one frame at a time.
//
//   z = (1/scaling_factor) * latents                    float32 reciprocal, as AnimateDiffPipeline.decode_latents
//   h = post_quant_conv(z)            1x1, 4 -> 4
//   h = decoder.conv_in(h)            3x3, 4 -> C_top (= block_out_channels[-1])
//   h = mid_block(h)                  resnet, single-head self-attention over the h·w tokens, resnet
//   h = up_blocks[i](h), i = 0..3     (layers_per_block+1) resnets each, nearest 2x + 3x3 conv except the last
//   img = conv_out(silu(conv_norm_out(h)))   C_0 -> 3
//
// ResnetBlock2D: out = shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))), shortcut = 1x1 conv when the
// channel count changes. Every GroupNorm is per frame with eps 1e-6. Sizes come from the weight shapes; the
// group count (32 in SD1.5, 8 in the oracle's tiny model) is not in the weights and comes from the config.
import { KindedError } from '../errors';
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';
import { attention, MAX_HEAD_DIM } from '../ops/attention';
import { conv2d } from '../ops/conv2d';
import { groupNorm } from '../ops/groupnorm';
import { linear } from '../ops/linear';
import { matmul } from '../ops/matmul';
import { type Conv2dWeight, type LinearWeight, prepareConv2d, prepareLinear, releaseWeight } from '../ops/weights';
import type { WeightMap } from '../weights/weight-map';
import { softmaxRowsInPlace, upsampleNearest2x } from './vae/kernels';


export interface VaeDecoderConfig {
  /** GroupNorm groups (vae_config.norm_num_groups); SD1.5: 32. */
  groups?: number;
  /** vae_config.scaling_factor; SD1.5: 0.18215. */
  scalingFactor?: number;
  /**
   * Mid-block attention path: 'auto' = flash kernel when C ≤ MAX_HEAD_DIM, else materialised scores;
   * 'materialised' forces the latter (tests use it to check that path on the tiny model).
   */
  attention?: 'auto' | 'materialised';
}

export class VaeWeightError extends KindedError {
  constructor(message: string) {
    super('model-mismatch', message);
  }
}

const EPS = 1e-6;

interface Norm { gamma: Tensor; beta: Tensor }
interface Resnet { norm1: Norm; conv1: Conv2dWeight; norm2: Norm; conv2: Conv2dWeight; shortcut?: Conv2dWeight }
interface MidAttention {
  norm: Norm;
  out: LinearWeight;
  channels: number;
  /** Fused [3C, C] projection for the flash kernel (C ≤ MAX_HEAD_DIM). */
  qkv?: LinearWeight;
  /** Separate projections, q pre-scaled by 1/√C, for the materialised path (C > MAX_HEAD_DIM). */
  wide?: { q: LinearWeight; k: LinearWeight; v: LinearWeight };
}
interface UpBlock { resnets: Resnet[]; upsample?: Conv2dWeight }

/** Loads and prepares every decoder weight once; `decodeFrame` runs one latent frame. */
export class VaeDecoder {
  private readonly owned: Tensor[] = [];
  private readonly weights: (Conv2dWeight | LinearWeight)[] = [];
  private postQuantConv!: Conv2dWeight;
  private convIn!: Conv2dWeight;
  private mid!: { resnet0: Resnet; attn: MidAttention; resnet1: Resnet };
  private up: UpBlock[] = [];
  private normOut!: Norm;
  private convOut!: Conv2dWeight;
  readonly groups: number;
  readonly scalingFactor: number;
  /** Latent channels (4) and output channels (3). */
  latentChannels = 4;
  outChannels = 3;
  /** Spatial upscaling factor latent → image (8 for SD1.5: one 2x per up block but the last). */
  upscale = 1;

  private constructor(private readonly e: Engine, private readonly cfg: VaeDecoderConfig) {
    this.groups = cfg.groups ?? 32;
    this.scalingFactor = cfg.scalingFactor ?? 0.18215;
  }

  static async load(e: Engine, w: WeightMap, cfg: VaeDecoderConfig = {}): Promise<VaeDecoder> {
    const d = new VaeDecoder(e, cfg);
    try {
      await d.build(w);
    } catch (err) {
      d.release();
      throw err;
    }
    return d;
  }

  private async build(w: WeightMap): Promise<void> {
    const need = (name: string): void => {
      if (!w.has(name)) throw new VaeWeightError(`VAE decoder: weight "${name}" is missing`);
    };
    const conv = async (prefix: string): Promise<Conv2dWeight> => {
      need(`${prefix}.weight`);
      const s = w.shape(`${prefix}.weight`);
      if (s.length !== 4) throw new VaeWeightError(`VAE decoder: ${prefix}.weight has shape [${s}], expected (Cout, Cin, kh, kw)`);
      const bias = w.has(`${prefix}.bias`) ? await w.get(`${prefix}.bias`) : undefined;
      const cw = prepareConv2d(this.e, await w.get(`${prefix}.weight`), s as [number, number, number, number], bias);
      this.weights.push(cw);
      return cw;
    };
    const vec = async (name: string): Promise<Tensor> => {
      need(name);
      const t = this.e.upload((await w.get(name)).data, [w.shape(name).reduce((a, b) => a * b, 1)]);
      this.owned.push(t);
      return t;
    };
    const norm = async (prefix: string): Promise<Norm> => ({ gamma: await vec(`${prefix}.weight`), beta: await vec(`${prefix}.bias`) });
    const resnet = async (prefix: string): Promise<Resnet> => ({
      norm1: await norm(`${prefix}.norm1`),
      conv1: await conv(`${prefix}.conv1`),
      norm2: await norm(`${prefix}.norm2`),
      conv2: await conv(`${prefix}.conv2`),
      shortcut: w.has(`${prefix}.conv_shortcut.weight`) ? await conv(`${prefix}.conv_shortcut`) : undefined,
    });

    need('post_quant_conv.weight');
    this.latentChannels = w.shape('post_quant_conv.weight')[1];
    this.postQuantConv = await conv('post_quant_conv');
    this.convIn = await conv('decoder.conv_in');

    // Mid-block attention: q, k, v fused into one [3C, C] linear (single head, head dim C).
    const a = 'decoder.mid_block.attentions.0';
    for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) need(`${a}.${p}.weight`);
    const C = w.shape(`${a}.to_q.weight`)[0];
    for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
      const s = w.shape(`${a}.${p}.weight`);
      if (s.length !== 2 || s[0] !== C || s[1] !== C) throw new VaeWeightError(`VAE decoder: ${a}.${p}.weight has shape [${s}], expected [${C}, ${C}] (a Linear; 1x1-conv layouts are converted by the loader)`);
    }
    const bias = async (p: string, n: number) => (w.has(`${a}.${p}.bias`) ? await w.read(`${a}.${p}.bias`) : new Float32Array(n));
    const attn: MidAttention = {
      norm: await norm(`${a}.group_norm`),
      out: prepareLinear(this.e, await w.get(`${a}.to_out.0.weight`), [C, C], await bias('to_out.0', C)),
      channels: C,
    };
    this.weights.push(attn.out);
    if (C <= MAX_HEAD_DIM && this.cfg.attention !== 'materialised') {
      const qkvW = new Float32Array(3 * C * C);
      const qkvB = new Float32Array(3 * C);
      for (const [i, p] of ['to_q', 'to_k', 'to_v'].entries()) {
        qkvW.set(await w.read(`${a}.${p}.weight`), i * C * C);
        qkvB.set(await bias(p, C), i * C);
      }
      attn.qkv = prepareLinear(this.e, qkvW, [3 * C, C], qkvB);
      this.weights.push(attn.qkv);
    } else {
      const scale = 1 / Math.sqrt(C);
      const qW = (await w.read(`${a}.to_q.weight`)).map((v) => v * scale);
      const qB = (await bias('to_q', C)).map((v) => v * scale);
      attn.wide = {
        q: prepareLinear(this.e, qW, [C, C], qB),
        k: prepareLinear(this.e, await w.read(`${a}.to_k.weight`), [C, C], await bias('to_k', C)),
        v: prepareLinear(this.e, await w.read(`${a}.to_v.weight`), [C, C], await bias('to_v', C)),
      };
      this.weights.push(attn.wide.q, attn.wide.k, attn.wide.v);
    }
    this.mid = {
      resnet0: await resnet('decoder.mid_block.resnets.0'),
      attn,
      resnet1: await resnet('decoder.mid_block.resnets.1'),
    };

    for (let i = 0; w.has(`decoder.up_blocks.${i}.resnets.0.conv1.weight`); i++) {
      const resnets: Resnet[] = [];
      for (let j = 0; w.has(`decoder.up_blocks.${i}.resnets.${j}.conv1.weight`); j++) resnets.push(await resnet(`decoder.up_blocks.${i}.resnets.${j}`));
      const up = `decoder.up_blocks.${i}.upsamplers.0.conv`;
      const upsample = w.has(`${up}.weight`) ? await conv(up) : undefined;
      if (upsample) this.upscale *= 2;
      this.up.push({ resnets, upsample });
    }
    if (!this.up.length) throw new VaeWeightError('VAE decoder: no decoder.up_blocks.* weights found');
    this.normOut = await norm('decoder.conv_norm_out');
    this.convOut = await conv('decoder.conv_out');
    this.outChannels = w.shape('decoder.conv_out.weight')[0];
  }

  /**
   * Decode one frame. `latent` is NCHW (c, h, w) in pipeline space (what the denoising loop produces);
   * it is scaled by the float32 reciprocal of the scaling factor and transposed to NHWC on the CPU.
   * Returns the raw decoder output [1, 8h, 8w, 3] (≈ [-1, 1]); the caller releases it.
   */
  decodeFrame(latent: Float32Array, h: number, w: number, onIntermediate?: (name: string, t: Tensor) => void): Tensor {
    const c = this.latentChannels;
    if (latent.length !== c * h * w) throw new RangeError(`VaeDecoder.decodeFrame: ${latent.length} values for a (${c}, ${h}, ${w}) latent`);
    const inv = Math.fround(1 / this.scalingFactor);
    const nhwc = new Float32Array(latent.length);
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) nhwc[p * c + ch] = Math.fround(inv * latent[ch * h * w + p]);
    }
    const z = this.e.upload(nhwc, [1, h, w, c]);
    try {
      return this.decodeScaled(z, onIntermediate);
    } finally {
      z.release();
    }
  }

  /**
   * The decoder on an already-scaled NHWC input z [n, h, w, 4] (no scaling). `onIntermediate` sees the outputs of
   * `post_quant_conv`, `decoder.conv_in`, `decoder.mid_block` and `decoder.up_blocks.i` (NHWC; released after the
   * call returns, so read it synchronously: `engine.read` records its copy at once).
   */
  decodeScaled(z: Tensor, onIntermediate?: (name: string, t: Tensor) => void): Tensor {
    const e = this.e;
    let h = conv2d(e, z, this.postQuantConv);
    onIntermediate?.('post_quant_conv', h);
    h = this.step(h, (x) => conv2d(e, x, this.convIn));
    onIntermediate?.('decoder.conv_in', h);
    h = this.step(h, (x) => this.resnet(x, this.mid.resnet0));
    h = this.step(h, (x) => this.midAttention(x));
    h = this.step(h, (x) => this.resnet(x, this.mid.resnet1));
    onIntermediate?.('decoder.mid_block', h);
    for (const [i, block] of this.up.entries()) {
      for (const r of block.resnets) h = this.step(h, (x) => this.resnet(x, r));
      if (block.upsample) {
        h = this.step(h, (x) => upsampleNearest2x(e, x));
        h = this.step(h, (x) => conv2d(e, x, block.upsample!));
      }
      onIntermediate?.(`decoder.up_blocks.${i}`, h);
    }
    h = this.step(h, (x) => groupNorm(e, x, this.normOut.gamma, this.normOut.beta, { groups: this.groups, eps: EPS, act: 'silu' }));
    return this.step(h, (x) => conv2d(e, x, this.convOut));
  }

  /** Apply f to x and release x (also when f throws). */
  private step(x: Tensor, f: (x: Tensor) => Tensor): Tensor {
    try {
      return f(x);
    } finally {
      x.release();
    }
  }

  private resnet(x: Tensor, r: Resnet): Tensor {
    const e = this.e;
    const g = { groups: this.groups, eps: EPS, act: 'silu' as const };
    let h = groupNorm(e, x, r.norm1.gamma, r.norm1.beta, g);
    h = this.step(h, (t) => conv2d(e, t, r.conv1));
    h = this.step(h, (t) => groupNorm(e, t, r.norm2.gamma, r.norm2.beta, g));
    const shortcut = r.shortcut ? conv2d(e, x, r.shortcut) : x;
    try {
      return this.step(h, (t) => conv2d(e, t, r.conv2, { residual: shortcut }));
    } finally {
      if (shortcut !== x) shortcut.release();
    }
  }

  /** x + to_out(softmax(q kᵀ / √C) v), q/k/v = linear(GroupNorm(x)) over the n·h·w tokens of each frame. */
  private midAttention(x: Tensor): Tensor {
    const e = this.e;
    const [n, hh, ww, C] = x.shape;
    const L = hh * ww;
    const a = this.mid.attn;
    const normed = groupNorm(e, x, a.norm.gamma, a.norm.beta, { groups: this.groups, eps: EPS });
    let o: Tensor; // [n, L, C]
    try {
      if (a.qkv) {
        const qkv = linear(e, normed, a.qkv); // [n, h, w, 3C]
        try {
          const t = qkv.reshape([n, L, 3 * C]);
          o = attention(e, t, t, t, { heads: 1, q: { stride: 3 * C, offset: 0 }, k: { stride: 3 * C, offset: C }, v: { stride: 3 * C, offset: 2 * C } });
        } finally {
          qkv.release();
        }
      } else {
        o = this.wideAttention(normed.reshape([n, L, C]));
      }
    } finally {
      normed.release();
    }
    return this.step(o, (t) => linear(e, t.reshape([n, hh, ww, C]), a.out, { residual: x }));
  }

  /**
   * Single-head attention with head dim C over the flash kernel's limit (SD1.5: C = 512): scores materialised
   * (n·L·L values, 64 MB f32 per frame at a 64×64 latent: decode one frame at a time), softmax in place, P·v.
   * The 1/√C scale is folded into the q projection at load.
   */
  private wideAttention(x: Tensor): Tensor {
    const e = this.e;
    const w = this.mid.attn.wide!;
    const q = linear(e, x, w.q), k = linear(e, x, w.k), v = linear(e, x, w.v);
    try {
      const s = matmul(e, q, k, { transB: true });
      try {
        softmaxRowsInPlace(e, s);
        return matmul(e, s, v);
      } finally {
        s.release();
      }
    } finally {
      for (const t of [q, k, v]) t.release();
    }
  }

  release(): void {
    for (const t of this.owned.splice(0)) t.release();
    for (const w of this.weights.splice(0)) releaseWeight(w);
  }
}

/** Display conversion of a raw decoded frame, NHWC RGB floats → RGBA8: (x/2 + 0.5).clamp(0, 1) · 255, rounded. */
export function imageToRgba(img: Float32Array, height: number, width: number, channels = 3): Uint8ClampedArray {
  if (img.length !== height * width * channels) throw new RangeError(`imageToRgba: ${img.length} values for ${height}x${width}x${channels}`);
  const out = new Uint8ClampedArray(height * width * 4);
  for (let p = 0; p < height * width; p++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, img[p * channels + c] / 2 + 0.5));
      out[p * 4 + c] = Math.round(v * 255);
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** (x/2 + 0.5).clamp(0, 1) elementwise in float32, as diffusers' VideoProcessor before uint8 conversion. */
export function toUnitRange(img: Float32Array): Float32Array {
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i++) out[i] = Math.min(1, Math.max(0, Math.fround(Math.fround(img[i] / 2) + 0.5)));
  return out;
}
