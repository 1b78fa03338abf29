// The UNet's down, mid and up blocks with AnimateDiff motion modules (diffusers unet_motion_model.py
// CrossAttnDownBlockMotion / DownBlockMotion / UNetMidBlockCrossAttnMotion / CrossAttnUpBlockMotion / UpBlockMotion).
// One layer = ResNet → spatial transformer (if the block has attention) → motion module (if any);
// down blocks end with a stride-2 conv (a side of n becomes ceil(n/2)), up blocks with nearest upsampling + conv:
// to the size of the skip connection the next up block concatenates (diffusers' `upsample_size`, which is 2×
// whenever the latent sides are divisible by the total downsampling), so every latent size works.
// Mid block: ResNet0 → [attention → motion module (v2-class only) → ResNet1].
// Ownership: `forward` never releases its input; skip tensors handed to an up block are released by it.
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';
import { conv2d } from '../ops/conv2d';
import { concatChannels, upsampleNearest } from '../ops/elementwise';
import type { Conv2dWeight } from '../ops/weights';
import type { BlockTopology } from './config';
import type { ForwardContext } from './forward-context';
import { inFrameChunks } from './chunking';
import { loadConv, releaseWeight, type Scope, ModelWeightsError } from './layers';
import { MotionModule, type MotionModuleConfig } from './motion-module';
import { type ResnetConfig, ResnetBlock } from './resnet';
import { Transformer2D, type Transformer2DConfig } from './transformer2d';

/** ResNet, optional spatial transformer, optional motion module: one "layer" of a block. */
export class UNetLayer {
  constructor(
    readonly resnet: ResnetBlock,
    readonly attention: Transformer2D | null,
    readonly motion: MotionModule | null,
  ) {}

  static async load(
    e: Engine, block: Scope, i: number, inChannels: number,
    cfg: { resnet: ResnetConfig; attention: Transformer2DConfig | null; motion: MotionModuleConfig | null },
  ): Promise<UNetLayer> {
    const resnet = await ResnetBlock.load(e, block.pp('resnets').pp(i), inChannels, cfg.resnet);
    const C = resnet.outChannels;
    const attention = cfg.attention ? await Transformer2D.load(e, block.pp('attentions').pp(i), C, cfg.attention) : null;
    const motion = cfg.motion ? await MotionModule.load(e, block.pp('motion_modules').pp(i), cfg.motion) : null;
    return new UNetLayer(resnet, attention, motion);
  }

  /**
   * x → motion(attention(resnet(x))), or with a skip (up blocks) resnet(cat[x, skip]). Does not release x or skip.
   * The spatial part (concat, ResNet, spatial transformer: per frame) runs in frame chunks when src/plan says so.
   */
  forward(ctx: ForwardContext, x: Tensor, skip?: Tensor): Tensor {
    const C = this.resnet.outChannels;
    const widest = Math.max(this.resnet.inChannels, C, this.attention ? 3 * C : 0);
    let h = inFrameChunks(ctx, skip ? [x, skip] : [x], widest, C, 'spatial layers', (c, [xs, sk]) => {
      // torch.cat([hidden_states, res_hidden_states], dim=1): the running state first
      const cat = sk ? concatChannels(c.e, xs, sk) : xs;
      let r = this.resnet.forward(c, cat);
      if (cat !== xs) cat.release();
      if (this.attention) {
        const a = this.attention.forward(c, r);
        r.release();
        r = a;
      }
      return r;
    });
    h = withMotion(ctx, this.motion, h);
    return h;
  }

  release(): void {
    this.resnet.release();
    this.attention?.release();
    this.motion?.release();
  }
}

export interface BlockConfig {
  resnet: ResnetConfig;
  /** Spatial-transformer settings; used only where the topology has attention. */
  attention: Transformer2DConfig;
  motion: MotionModuleConfig;
}

function layerConfig(t: BlockTopology, cfg: BlockConfig) {
  return { resnet: cfg.resnet, attention: t.attention ? cfg.attention : null, motion: t.motionModules > 0 ? cfg.motion : null };
}

export class DownBlock {
  private constructor(readonly layers: UNetLayer[], private readonly downsample: Conv2dWeight | null) {}

  static async load(e: Engine, s: Scope, inChannels: number, t: BlockTopology, cfg: BlockConfig): Promise<DownBlock> {
    const layers: UNetLayer[] = [];
    let cin = inChannels;
    for (let i = 0; i < t.layers; i++) {
      layers.push(await UNetLayer.load(e, s, i, cin, layerConfig(t, cfg)));
      cin = t.channels;
    }
    const downsample = t.resample ? await loadConv(e, s, 'downsamplers.0.conv', { in: t.channels, out: t.channels, kernel: 3 }) : null;
    return new DownBlock(layers, downsample);
  }

  /** x [b*F, H, W, Cin] → the skip tensors (each layer's output, then the downsampled one); the last is the block output. */
  forward(ctx: ForwardContext, x: Tensor): Tensor[] {
    const skips: Tensor[] = [];
    let h = x;
    for (const layer of this.layers) {
      h = layer.forward(ctx, h);
      skips.push(h);
    }
    if (this.downsample) {
      // diffusers Downsample2D: 3×3 conv, stride 2, padding 1 (downsample_padding)
      h = conv2d(ctx.e, h, this.downsample, { stride: 2, padding: 1 });
      skips.push(h);
    }
    return skips;
  }

  release(): void {
    for (const l of this.layers) l.release();
    if (this.downsample) releaseWeight(this.downsample);
  }
}

export class MidBlock {
  private constructor(
    private readonly resnet0: ResnetBlock,
    private readonly attention: Transformer2D | null,
    private readonly motion: MotionModule | null,
    private readonly resnet1: ResnetBlock,
  ) {}

  static async load(e: Engine, s: Scope, channels: number, t: { attention: boolean; motion: boolean }, cfg: BlockConfig): Promise<MidBlock> {
    const resnets = s.count('resnets', 'conv1.weight');
    if (resnets !== 2) throw new ModelWeightsError(`${s.prefix}: ${resnets} resnets; the SD1.5 mid block has 2`);
    return new MidBlock(
      await ResnetBlock.load(e, s.pp('resnets').pp(0), channels, cfg.resnet),
      t.attention ? await Transformer2D.load(e, s.pp('attentions').pp(0), channels, cfg.attention) : null,
      t.motion ? await MotionModule.load(e, s.pp('motion_modules').pp(0), cfg.motion) : null,
      await ResnetBlock.load(e, s.pp('resnets').pp(1), channels, cfg.resnet),
    );
  }

  /** resnet0 → attention → motion → resnet1 (spatial parts in frame chunks when src/plan says so). Does not release x. */
  forward(ctx: ForwardContext, x: Tensor): Tensor {
    const C = this.resnet0.outChannels;
    let h = inFrameChunks(ctx, [x], Math.max(this.resnet0.inChannels, C, this.attention ? 3 * C : 0), C, 'mid-block spatial layers', (c, [xs]) => {
      let r = this.resnet0.forward(c, xs);
      if (this.attention) {
        const a = this.attention.forward(c, r);
        r.release();
        r = a;
      }
      return r;
    });
    h = withMotion(ctx, this.motion, h);
    const out = inFrameChunks(ctx, [h], C, C, 'mid-block ResNet', (c, [xs]) => this.resnet1.forward(c, xs));
    h.release();
    return out;
  }

  release(): void {
    this.resnet0.release();
    this.attention?.release();
    this.motion?.release();
    this.resnet1.release();
  }
}

export class UpBlock {
  private constructor(readonly layers: UNetLayer[], private readonly upsample: Conv2dWeight | null) {}

  /**
   * `skipChannels[i]`: channels of the skip tensor layer i concatenates (popped from the down path's stack).
   * Layer i's ResNet input is (previous output channels + skip channels).
   */
  static async load(e: Engine, s: Scope, inChannels: number, skipChannels: number[], t: BlockTopology, cfg: BlockConfig): Promise<UpBlock> {
    const layers: UNetLayer[] = [];
    let cin = inChannels;
    for (let i = 0; i < t.layers; i++) {
      layers.push(await UNetLayer.load(e, s, i, cin + skipChannels[i], layerConfig(t, cfg)));
      cin = t.channels;
    }
    const upsample = t.resample ? await loadConv(e, s, 'upsamplers.0.conv', { in: t.channels, out: t.channels, kernel: 3 }) : null;
    return new UpBlock(layers, upsample);
  }

  /** x: input (not released); `skips`: the down path's stack, from which this block pops and releases one per layer. */
  forward(ctx: ForwardContext, x: Tensor, skips: Tensor[]): Tensor {
    const { e } = ctx;
    let h = x;
    for (const layer of this.layers) {
      const skip = skips.pop();
      if (!skip) throw new Error('UpBlock: the skip stack is empty (down/up block layer counts do not match)');
      const next = layer.forward(ctx, h, skip);
      skip.release();
      if (h !== x) h.release();
      h = next;
    }
    if (this.upsample) {
      // diffusers UNet2DConditionModel.forward: upsample_size = the next skip's spatial size (2× when none is left).
      const next = skips[skips.length - 1];
      const [Ho, Wo] = next ? [next.shape[1], next.shape[2]] : [2 * h.shape[1], 2 * h.shape[2]];
      const up = upsampleNearest(e, h, Ho, Wo);
      if (h !== x) h.release();
      h = conv2d(e, up, this.upsample, { padding: 1 });
      up.release();
    }
    return h === x ? copyOf(e, x) : h;
  }

  release(): void {
    for (const l of this.layers) l.release();
    if (this.upsample) releaseWeight(this.upsample);
  }
}

/** A block with no layers would hand back its input; keep the "new tensor out" contract. */
/** The motion module over all frames (x + s·(module(x) − x)), releasing `h`; `h` itself when there is none or s = 0. */
function withMotion(ctx: ForwardContext, motion: MotionModule | null, h: Tensor): Tensor {
  if (!motion || ctx.motion.strength === 0) return h; // strength 0: x + 0·(module(x) − x) = x
  const m = motion.forward(ctx.e, h, ctx.frames, ctx.motionFramesPerGroup, ctx.limits, ctx.motion);
  h.release();
  return m;
}

function copyOf(e: Engine, x: Tensor): Tensor {
  const out = e.empty(x.shape, x.dtype);
  e.copy(x, out);
  return out;
}
