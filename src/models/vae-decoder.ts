// The SD1.5 VAE decoder (diffusers AutoencoderKL: post_quant_conv + Decoder), NHWC on the GPU, a batch of frames per
// call, each image held as row tiles (./row-tiles.ts: exact, the tiles only bound the largest binding).
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
import { linear } from '../ops/linear';
import { matmul } from '../ops/matmul';
import { upsampleNearest2x } from '../ops/elementwise';
import { type Conv2dWeight, type LinearWeight, prepareLinear } from '../ops/weights';
import { hostToF32, type WeightMap } from '../weights/weight-map';
import { loadConv, loadLinear, loadNorm, ModelWeightsError, type NormParams, type Releasable, Scope } from './layers';
import { ResnetBlock } from './resnet';
import { assembleRows, convRows, groupNormRows, mapRowTiles, RowTiles, tileRows, uploadRowTiles } from './row-tiles';
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
   * Decode one frame. `latent` is NCHW (c, h, w) in pipeline space (what the denoising loop produces).
   * Returns the raw decoder output [1, 8h, 8w, 3] (≈ [-1, 1]); the caller releases it.
   */
  decodeFrame(latent: Float32Array, h: number, w: number, onIntermediate?: (name: string, t: Tensor) => void): Tensor {
    return this.decodeFrames([latent], h, w, { onIntermediate });
  }

  /**
   * Decode several frames in one call, each NCHW (c, h, w) in pipeline space: scaled by the float32 reciprocal of
   * the scaling factor, transposed to NHWC on the CPU and uploaded as row tiles of `rows` image rows (a multiple of
   * `upscale`; default the whole image), which the whole decoder keeps (./row-tiles.ts). The result is the same
   * as the whole-image decode for any `rows` (GroupNorm statistics of the whole image, convs with halo rows).
   * Returns the raw output [frames, upscale·h, upscale·w, 3] (≈ [-1, 1]); the caller releases it.
   */
  decodeFrames(latents: readonly Float32Array[], h: number, w: number, o: { rows?: number; onIntermediate?: (name: string, t: Tensor) => void } = {}): Tensor {
    const c = this.latentChannels;
    const n = latents.length;
    if (!n) throw new RangeError('VaeDecoder.decodeFrames: no frames');
    const rows = o.rows ?? h * this.upscale;
    if (!(Number.isInteger(rows) && rows >= this.upscale && rows % this.upscale === 0)) {
      throw new RangeError(`VaeDecoder.decodeFrames: rows per tile ${rows} must be a positive multiple of the VAE's scale factor ${this.upscale}`);
    }
    const inv = Math.fround(1 / this.scalingFactor);
    const nhwc = new Float32Array(n * c * h * w);
    for (const [f, latent] of latents.entries()) {
      if (latent.length !== c * h * w) throw new RangeError(`VaeDecoder.decodeFrames: ${latent.length} values for a (${c}, ${h}, ${w}) latent`);
      const base = f * h * w * c;
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < h * w; p++) nhwc[base + p * c + ch] = Math.fround(inv * latent[ch * h * w + p]);
      }
    }
    const z = uploadRowTiles(this.e, nhwc, [n, h, w, c], tileRows(h, rows / this.upscale));
    let img: RowTiles;
    try {
      img = this.decodeRows(z, o.onIntermediate);
    } finally {
      z.release();
    }
    return this.whole(img);
  }

  /**
   * The decoder on an already-scaled NHWC input z [n, h, w, 4] (no scaling), whole image. `onIntermediate` sees the
   * outputs of `post_quant_conv`, `decoder.conv_in`, `decoder.mid_block` and `decoder.up_blocks.i` (NHWC; released
   * after the call returns, so read it synchronously: `engine.read` records its copy at once).
   */
  decodeScaled(z: Tensor, onIntermediate?: (name: string, t: Tensor) => void): Tensor {
    const view = z.reshape(z.shape);
    return this.whole(this.decodeRows(new RowTiles([view]), onIntermediate));
  }

  /** The image of row tiles as one tensor (a single tile is handed over as it is); releases the tiles. */
  private whole(img: RowTiles): Tensor {
    if (img.tiles.length === 1) return img.tiles[0];
    try {
      return assembleRows(this.e, img);
    } finally {
      img.release();
    }
  }

  /**
   * The decoder on row tiles of the scaled NHWC input (z is not released). A latent tile of r rows stays one tile
   * of r·2^k rows after k upsamplers, so tile boundaries line up at every level.
   */
  private decodeRows(z: RowTiles, onIntermediate?: (name: string, t: Tensor) => void): RowTiles {
    const e = this.e;
    const show = (name: string, x: RowTiles) => {
      if (!onIntermediate) return;
      const whole = assembleRows(e, x);
      try {
        onIntermediate(name, whole);
      } finally {
        whole.release();
      }
    };
    let h = mapRowTiles(z, (t) => conv2d(e, t, this.postQuantConv));
    show('post_quant_conv', h);
    h = this.step(h, (x) => convRows(e, x, this.convIn));
    show('decoder.conv_in', h);
    h = this.step(h, (x) => this.mid.resnet0.forwardRows(e, x));
    h = this.step(h, (x) => this.midAttention(x));
    h = this.step(h, (x) => this.mid.resnet1.forwardRows(e, x));
    show('decoder.mid_block', h);
    for (const [i, block] of this.up.entries()) {
      for (const r of block.resnets) h = this.step(h, (x) => r.forwardRows(e, x));
      if (block.upsample) {
        h = this.step(h, (x) => mapRowTiles(x, (t) => upsampleNearest2x(e, t)));
        h = this.step(h, (x) => convRows(e, x, block.upsample!));
      }
      show(`decoder.up_blocks.${i}`, h);
    }
    h = this.step(h, (x) => groupNormRows(e, x, this.normOut, { groups: this.groups, eps: EPS, act: 'silu' }));
    return this.step(h, (x) => convRows(e, x, this.convOut));
  }

  /** Apply f to x and release x (also when f throws). */
  private step(x: RowTiles, f: (x: RowTiles) => RowTiles): RowTiles {
    try {
      return f(x);
    } finally {
      x.release();
    }
  }

  /**
   * x + to_out(softmax(q kᵀ / √C) v), q/k/v = linear(GroupNorm(x)) over the h·w tokens of each frame. The keys and
   * values are those of the whole image (the lowest resolution, assembled from the tiles); the queries are taken
   * tile by tile, so the scores of one call are [n, rows_i·w, h·w].
   */
  private midAttention(x: RowTiles): RowTiles {
    const e = this.e;
    const [n, hh, ww, C] = x.shape;
    const L = hh * ww;
    const a = this.mid.attn;
    const normed = groupNormRows(e, x, a.norm, { groups: this.groups, eps: EPS });
    let o: Tensor[]; // per tile [n, rows_i·w, C]
    try {
      if (a.qkv) {
        const qkv = mapRowTiles(normed, (t) => linear(e, t, a.qkv!)); // tiles [n, rows_i, w, 3C]
        try {
          const whole = qkv.tiles.length > 1 ? assembleRows(e, qkv) : null;
          try {
            const kv = (whole ?? qkv.tiles[0]).reshape([n, L, 3 * C]);
            o = mapTiles(qkv.tiles, (t) => attention(e, t.reshape([n, t.shape[1] * ww, 3 * C]), kv, kv, {
              heads: 1, q: { stride: 3 * C, offset: 0 }, k: { stride: 3 * C, offset: C }, v: { stride: 3 * C, offset: 2 * C },
            }));
          } finally {
            whole?.release();
          }
        } finally {
          qkv.release();
        }
      } else {
        o = this.wideAttention(normed, n, L, C);
      }
    } finally {
      normed.release();
    }
    try {
      return mapRowTiles(x, (t, i) => linear(e, o[i].reshape(t.shape), a.out, { residual: t }));
    } finally {
      for (const t of o) t.release();
    }
  }

  /**
   * Single-head attention with head dim C over the flash kernel's limit (SD1.5: C = 512): scores materialised per
   * query tile ([n, rows_i·w, L]: 64 MB f32 per frame for a whole 64×64 latent), softmax in place, P·v. The 1/√C
   * scale is folded into the q projection at load.
   */
  private wideAttention(normed: RowTiles, n: number, L: number, C: number): Tensor[] {
    const e = this.e;
    const w = this.mid.attn.wide!;
    const whole = normed.tiles.length > 1 ? assembleRows(e, normed) : null;
    let k: Tensor, v: Tensor;
    try {
      const src = (whole ?? normed.tiles[0]).reshape([n, L, C]);
      k = linear(e, src, w.k);
      try {
        v = linear(e, src, w.v);
      } catch (err) {
        k.release();
        throw err;
      }
    } finally {
      whole?.release();
    }
    try {
      return mapTiles(normed.tiles, (t) => {
        const q = linear(e, t.reshape([n, t.shape[1] * t.shape[2], C]), w.q);
        try {
          const s = matmul(e, q, k, { transB: true });
          try {
            softmaxRowsInPlace(e, s);
            return matmul(e, s, v);
          } finally {
            s.release();
          }
        } finally {
          q.release();
        }
      });
    } finally {
      k.release();
      v.release();
    }
  }

  release(): void {
    for (const r of this.loaded.splice(0)) r.release();
  }
}

/** f over every tile into a new list; what was made is released if one throws. */
function mapTiles(tiles: readonly Tensor[], f: (t: Tensor) => Tensor): Tensor[] {
  const out: Tensor[] = [];
  try {
    for (const t of tiles) out.push(f(t));
  } catch (err) {
    for (const t of out) t.release();
    throw err;
  }
  return out;
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
