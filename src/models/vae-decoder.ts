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
import { upsampleNearest2x } from '../ops/elementwise';
import { type Conv2dWeight, type LinearWeight, prepareLinear } from '../ops/weights';
import { hostToF32, type WeightMap } from '../weights/weight-map';
import { loadConv, loadLinear, loadNorm, ModelWeightsError, type NormParams, type Releasable, Scope } from './layers';
import { ResnetBlock, type ResnetContext } from './resnet';
import { softmaxRowsInPlace } from './vae/kernels';


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

interface MidAttention {
  norm: NormParams;
  out: LinearWeight;
  channels: number;
  /** Fused [3C, C] projection for the flash kernel (C ≤ MAX_HEAD_DIM). */
  qkv?: LinearWeight;
  /** Separate projections, q pre-scaled by 1/√C, for the materialised path (C > MAX_HEAD_DIM). */
  wide?: { q: LinearWeight; k: LinearWeight; v: LinearWeight };
}
interface UpBlock { resnets: ResnetBlock[]; upsample?: Conv2dWeight }

/**
 * Loads and prepares every decoder weight once, through the UNet's shape-checked loaders (`Scope`, `loadConv`,
 * `loadNorm`, `loadLinear`) and ResNet block (`ResnetBlock` without a time embedding); `decodeFrame` runs one frame.
 */
export class VaeDecoder {
  private loaded: Releasable[] = [];
  private postQuantConv!: Conv2dWeight;
  private convIn!: Conv2dWeight;
  private mid!: { resnet0: ResnetBlock; attn: MidAttention; resnet1: ResnetBlock };
  private up: UpBlock[] = [];
  private normOut!: NormParams;
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
    const s = new Scope(w);
    d.loaded = s.loaded;
    try {
      await d.build(s);
    } catch (err) {
      d.release();
      if (err instanceof ModelWeightsError) throw new VaeWeightError(`VAE decoder: ${err.message}`);
      throw err;
    }
    return d;
  }

  private async build(s: Scope): Promise<void> {
    const e = this.e;
    if (!s.has('post_quant_conv.weight')) throw new VaeWeightError('VAE decoder: weight "post_quant_conv.weight" is missing');
    const dec = s.pp('decoder');
    this.latentChannels = s.shape('post_quant_conv.weight')[1];
    this.postQuantConv = await loadConv(e, s, 'post_quant_conv', { in: this.latentChannels, out: this.latentChannels, kernel: 1 });
    this.convIn = await loadConv(e, dec, 'conv_in', { in: this.latentChannels, kernel: 3 });
    let ch = dec.shape('conv_in.weight')[0];
    const resnetCfg = { groups: this.groups, eps: EPS, timeEmbedDim: 0 };
    const resnet = async (r: Scope) => {
      const block = await ResnetBlock.load(e, r, ch, resnetCfg);
      ch = block.outChannels;
      return block;
    };

    const mid = dec.pp('mid_block');
    const resnet0 = await resnet(mid.pp('resnets').pp(0));
    // Mid-block attention: one head of dim C over the h·w tokens; q, k, v fused into one [3C, C] linear.
    const a = mid.pp('attentions').pp(0);
    const C = ch;
    const get = async (name: string, shape: number[]) => hostToF32(await a.get(name, shape));
    const bias = async (p: string) => (a.has(`${p}.bias`) ? await get(`${p}.bias`, [C]) : new Float32Array(C));
    const attn: MidAttention = {
      norm: await loadNorm(e, a, 'group_norm', C),
      out: await loadLinear(e, a, 'to_out.0', { in: C, out: C }),
      channels: C,
    };
    const proj = ['to_q', 'to_k', 'to_v'];
    if (C <= MAX_HEAD_DIM && this.cfg.attention !== 'materialised') {
      const qkvW = new Float32Array(3 * C * C);
      const qkvB = new Float32Array(3 * C);
      for (const [i, p] of proj.entries()) {
        qkvW.set(await get(`${p}.weight`, [C, C]), i * C * C);
        qkvB.set(await bias(p), i * C);
      }
      attn.qkv = a.track(prepareLinear(e, qkvW, [3 * C, C], qkvB));
    } else {
      const scale = 1 / Math.sqrt(C);
      const qW = (await get('to_q.weight', [C, C])).map((v) => v * scale);
      const qB = (await bias('to_q')).map((v) => v * scale);
      attn.wide = {
        q: a.track(prepareLinear(e, qW, [C, C], qB)),
        k: a.track(prepareLinear(e, await get('to_k.weight', [C, C]), [C, C], await bias('to_k'))),
        v: a.track(prepareLinear(e, await get('to_v.weight', [C, C]), [C, C], await bias('to_v'))),
      };
    }
    const resnet1 = await resnet(mid.pp('resnets').pp(1));
    this.mid = { resnet0, attn, resnet1 };

    const ups = dec.count('up_blocks', 'resnets.0.conv1.weight');
    if (!ups) throw new VaeWeightError('VAE decoder: no decoder.up_blocks.* weights found');
    for (let i = 0; i < ups; i++) {
      const u = dec.pp('up_blocks').pp(i);
      const resnets: ResnetBlock[] = [];
      for (let j = 0; j < u.count('resnets', 'conv1.weight'); j++) resnets.push(await resnet(u.pp('resnets').pp(j)));
      const upsample = u.has('upsamplers.0.conv.weight') ? await loadConv(e, u, 'upsamplers.0.conv', { in: ch, out: ch, kernel: 3 }) : undefined;
      if (upsample) this.upscale *= 2;
      this.up.push({ resnets, upsample });
    }
    this.normOut = await loadNorm(e, dec, 'conv_norm_out', ch);
    this.convOut = await loadConv(e, dec, 'conv_out', { in: ch, kernel: 3 });
    this.outChannels = dec.shape('conv_out.weight')[0];
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
    h = this.step(h, (x) => this.mid.resnet0.forward(this.context(x), x));
    h = this.step(h, (x) => this.midAttention(x));
    h = this.step(h, (x) => this.mid.resnet1.forward(this.context(x), x));
    onIntermediate?.('decoder.mid_block', h);
    for (const [i, block] of this.up.entries()) {
      for (const r of block.resnets) h = this.step(h, (x) => r.forward(this.context(x), x));
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

  /** The ResNets' context: every frame of x on its own, no time embedding. */
  private context(x: Tensor): ResnetContext {
    return { e: this.e, batch: 1, frames: x.shape[0], resnetFramesPerGroup: 1 };
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
    for (const r of this.loaded.splice(0)) r.release();
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
