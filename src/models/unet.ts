// SD1.5 UNet2DConditionModel with AnimateDiff motion modules (diffusers UNetMotionModel), on the engine.
//
//   latents [b*F, h, w, Cin] (NHWC, row n = b*F + f), timesteps (one per sample b), text [b, tokens, D]
//   temb = linear_2(silu(linear_1(sinusoid(t))))     SD1.5: flip_sin_to_cos = True, freq_shift = 0; per sample, never per frame
//   h = conv_in(latents);  skips = [h]
//   down blocks (each layer's output and the downsampled output pushed on `skips`)
//   mid block
//   up blocks (each layer pops a skip and concatenates it after h)
//   out = conv_out(silu(GN(h)))
//
// Every size (channels, block and layer counts, cross-attention width, time-embedding width) comes from the
// weight shapes (config.ts); heads and GroupNorm groups from `UNetHyperParams`.
import type { Engine } from '../gpu/engine';
import { bytesPerElement, type Tensor } from '../gpu/tensor';
import { conv2d } from '../ops/conv2d';
import { groupNorm } from '../ops/groupnorm';
import { linear } from '../ops/linear';
import { timestepEmbedding } from '../ops/timestep';
import type { Conv2dWeight, LinearWeight, WeightFormat } from '../ops/weights';
import { headsFor, inferUNetTopology, type Semantics, type UNetHyperParams, type UNetTopology, widestActivation } from './config';
import { type ChunkLimits, planUNetChunking } from '../plan/chunking';
import { chunkLimits, mapRowChunks, rowsOf } from './chunking';
import type { ForwardContext, MotionForwardOptions } from './forward-context';
import { loadConv, loadLinear, loadNorm, type NormParams, releaseNorm, releaseWeight, Scope, ModelWeightsError } from './layers';
import type { QuantizedWeightCache } from '../weights/quantized-cache';
import type { WeightMap } from '../weights/weight-map';
import { type BlockConfig, DownBlock, MidBlock, UpBlock } from './unet-blocks';

export interface UNetForwardOptions {
  /** Default: the one given at load (itself defaulting to 'official_animatediff'). */
  semantics?: Semantics;
  /**
   * Debug hook: called with each block's output (`down_blocks.i`, `mid_block`, `up_blocks.i`) and
   * `time_embedding` [b, timeEmbedDim]. The tensor is released after the call returns: read it synchronously
   * (`engine.read` records its copy at once).
   */
  onIntermediate?: (name: string, t: Tensor) => void;
  /**
   * Largest tensor one layer may make (default: the engine's binding limit). Over it, src/plan's chunking applies:
   * the batch runs one sample at a time (samples never interact; `onIntermediate` then sees sample 0 only), spatial
   * layers in frame chunks, motion-module attention in position chunks, feed-forwards in row chunks.
   */
  maxTensorBytes?: number;
  /** FreeNoise windows, motion strength and a debug probe for the motion modules (forward-context.ts). */
  motion?: MotionForwardOptions;
}

export interface UNetLoadOptions {
  semantics?: Semantics;
  /** Storage of every linear and conv weight of the UNet and motion modules (default float, the engine's dtype). */
  weights?: WeightFormat;
  /** Quantized weights of an earlier load with the same inputs, read instead of quantizing again (int8/int4 only). */
  quantized?: QuantizedWeightCache;
}

export class UNetMotion {
  private constructor(
    readonly topology: UNetTopology,
    readonly hyper: UNetHyperParams,
    private readonly semantics: Semantics,
    private readonly timeLinear1: LinearWeight,
    private readonly timeLinear2: LinearWeight,
    private readonly convIn: Conv2dWeight,
    private readonly down: DownBlock[],
    private readonly mid: MidBlock,
    private readonly up: UpBlock[],
    private readonly normOut: NormParams,
    private readonly convOut: Conv2dWeight,
  ) {}

  /** Upload every weight (tensor by tensor) from canonical UNetMotionModel names. */
  static async load(e: Engine, weights: WeightMap, hyper: UNetHyperParams, opts: UNetLoadOptions = {}): Promise<UNetMotion> {
    const s = new Scope(weights, '', [], opts.weights ?? 'float', opts.quantized);
    try {
      return await UNetMotion.loadIn(e, s, hyper, opts);
    } catch (err) {
      s.releaseLoaded();
      throw err;
    }
  }

  private static async loadIn(e: Engine, s: Scope, hyper: UNetHyperParams, opts: UNetLoadOptions): Promise<UNetMotion> {
    const topo = inferUNetTopology(s.weights, hyper.motionVersion);
    const resnet = { groups: hyper.normGroups, eps: hyper.normEps, timeEmbedDim: topo.timeEmbedDim };
    const motion = { heads: hyper.motionHeads, groups: hyper.motionNormGroups, peLength: Math.max(topo.motionPeLength ?? 0, 32) };
    const blockCfg = (heads: number): BlockConfig => ({
      resnet, motion, attention: { heads, groups: hyper.normGroups, crossAttentionDim: topo.crossAttentionDim },
    });

    const timeLinear1 = await loadLinear(e, s, 'time_embedding.linear_1', { in: topo.timeProjDim, out: topo.timeEmbedDim, bias: 'required' });
    const timeLinear2 = await loadLinear(e, s, 'time_embedding.linear_2', { in: topo.timeEmbedDim, out: topo.timeEmbedDim, bias: 'required' });
    const convIn = await loadConv(e, s, 'conv_in', { in: topo.inChannels });

    // The skip stack, simulated by channel count, tells each up-block ResNet its concatenated input width.
    const stack: number[] = [s.shape('conv_in.weight')[0]];
    const down: DownBlock[] = [];
    let ch = stack[0];
    for (const [i, t] of topo.down.entries()) {
      down.push(await DownBlock.load(e, s.pp('down_blocks').pp(i), ch, t, blockCfg(headsFor(hyper, i))));
      ch = t.channels;
      for (let l = 0; l < t.layers + (t.resample ? 1 : 0); l++) stack.push(ch);
    }
    if (topo.mid.channels !== ch) throw new ModelWeightsError(`mid_block has ${topo.mid.channels} channels after a down path ending in ${ch}`);
    const mid = await MidBlock.load(e, s.pp('mid_block'), ch, topo.mid, blockCfg(headsFor(hyper, topo.down.length - 1)));
    const up: UpBlock[] = [];
    for (const [i, t] of topo.up.entries()) {
      if (stack.length < t.layers) throw new ModelWeightsError(`up_blocks.${i} needs ${t.layers} skip tensors, ${stack.length} left`);
      const skips = stack.splice(stack.length - t.layers).reverse();
      up.push(await UpBlock.load(e, s.pp('up_blocks').pp(i), ch, skips, t, blockCfg(headsFor(hyper, topo.down.length - 1 - i))));
      ch = t.channels;
    }
    if (stack.length !== 0) throw new ModelWeightsError(`${stack.length} skip tensors left unused: the up blocks do not mirror the down blocks`);
    const normOut = await loadNorm(e, s, 'conv_norm_out', ch);
    const convOut = await loadConv(e, s, 'conv_out', { in: ch, out: topo.outChannels });
    return new UNetMotion(topo, hyper, opts.semantics ?? 'official_animatediff', timeLinear1, timeLinear2, convIn, down, mid, up, normOut, convOut);
  }

  /**
   * Total downsampling of the down path (2^downsamplers; 8 for SD1.5). Latent sides need not be multiples of it:
   * the up path upsamples to each skip connection's size (diffusers' `upsample_size`).
   */
  get downsampleFactor(): number {
    return 2 ** this.topology.down.filter((d) => d.resample).length;
  }

  /**
   * One UNet evaluation: latents [b*F, h, w, Cin] → noise prediction [b*F, h, w, Cout] (a new tensor; inputs are
   * not released). `timesteps`: one per sample b; `text`: [b, tokens, crossAttentionDim], one per sample, or
   * [b*F, tokens, crossAttentionDim], one per frame (row b*F + f).
   */
  forward(latents: Tensor, timesteps: readonly number[], text: Tensor, frames: number, opts: UNetForwardOptions = {}): Tensor {
    const e = latents.engine;
    const topo = this.topology;
    const b = timesteps.length;
    if (b < 1 || timesteps.some((t) => !Number.isFinite(t))) throw new RangeError(`UNetMotion: need one finite timestep per sample, got [${timesteps.join(', ')}]`);
    const [nf, h, w, cin] = latents.shape;
    if (latents.shape.length !== 4 || cin !== topo.inChannels) throw new RangeError(`UNetMotion: latents ${latents}, expected [b*F, h, w, ${topo.inChannels}]`);
    if (!Number.isInteger(frames) || frames < 1 || nf !== b * frames) throw new RangeError(`UNetMotion: latents ${latents} is not ${b} samples × ${frames} frames (one timestep per sample)`);
    if (text.shape.length !== 3 || (text.shape[0] !== b && text.shape[0] !== nf) || text.shape[2] !== topo.crossAttentionDim) {
      throw new RangeError(`UNetMotion: text ${text}, expected [${b}, tokens, ${topo.crossAttentionDim}] (per sample) or [${nf}, tokens, ${topo.crossAttentionDim}] (per frame)`);
    }
    const textRows = text.shape[0] / b;
    const lim = chunkLimits(e, opts.maxTensorBytes);
    const plan = planUNetChunking(topo, { batch: b, frames, h, w, pooledFrames: this.resnetFramesPerGroup(opts, frames) > 1 }, lim);
    if (plan.samplesPerPass < b) {
      // One sample at a time: the samples of a batch (CFG halves, videos) never exchange information.
      return mapRowChunks(e, b, 1, [nf, h, w, topo.outChannels], (s) => {
        const lat = rowsOf(e, latents, s * frames, frames);
        const txt = rowsOf(e, text, s * textRows, textRows);
        try {
          return this.forwardBatch(lat.t, [timesteps[s]], txt.t, frames, { ...opts, onIntermediate: s === 0 ? opts.onIntermediate : undefined }, lim);
        } finally {
          if (lat.owned) lat.t.release();
          if (txt.owned) txt.t.release();
        }
      });
    }
    return this.forwardBatch(latents, timesteps, text, frames, opts, lim);
  }

  /** Bytes of the widest tensor one layer makes for `frameRows` frames of h×w latents (see `widestActivation`). */
  largestTensorBytes(e: Engine, frameRows: number, h: number, w: number): number {
    return widestActivation(this.topology, frameRows, h, w) * bytesPerElement(e.dtype);
  }

  /** GroupNorm pooling of ResNets and conv_norm_out: over the frames of a sample for v1 modules under official semantics. */
  private resnetFramesPerGroup(opts: UNetForwardOptions, frames: number): number {
    return (opts.semantics ?? this.semantics) === 'official_animatediff' && this.topology.motionVersion === 'v1' ? frames : 1;
  }

  private forwardBatch(latents: Tensor, timesteps: readonly number[], text: Tensor, frames: number, opts: UNetForwardOptions, limits: ChunkLimits): Tensor {
    const e = latents.engine;
    const topo = this.topology;
    const b = timesteps.length;
    const semantics = opts.semantics ?? this.semantics;
    const hook = opts.onIntermediate;

    // Time embedding per sample; ResNets read silu(temb), so the SiLU is fused into linear_2.
    const feats = timestepEmbedding(e, timesteps, topo.timeProjDim, { flipSinToCos: this.hyper.flipSinToCos ?? true, downscaleFreqShift: this.hyper.freqShift ?? 0 });
    const t1 = linear(e, feats, this.timeLinear1, { act: 'silu' });
    feats.release();
    if (hook) {
      const temb = linear(e, t1, this.timeLinear2);
      hook('time_embedding', temb);
      temb.release();
    }
    const tembAct = linear(e, t1, this.timeLinear2, { act: 'silu' });
    t1.release();

    const ctx: ForwardContext = {
      e, batch: b, frames, tembAct, text,
      resnetFramesPerGroup: this.resnetFramesPerGroup(opts, frames),
      motionFramesPerGroup: semantics === 'diffusers' ? frames : 1,
      limits,
      motion: opts.motion ?? {},
    };

    // Down path: every skip tensor is owned by `skips` until an up block pops and releases it.
    const skips: Tensor[] = [conv2d(e, latents, this.convIn)];
    for (const [i, block] of this.down.entries()) {
      const outs = block.forward(ctx, skips[skips.length - 1]);
      skips.push(...outs);
      hook?.(`down_blocks.${i}`, outs[outs.length - 1]);
    }
    let hs = this.mid.forward(ctx, skips[skips.length - 1]);
    hook?.('mid_block', hs);
    for (const [i, block] of this.up.entries()) {
      const next = block.forward(ctx, hs, skips);
      hs.release();
      hs = next;
      hook?.(`up_blocks.${i}`, hs);
    }
    tembAct.release();

    const normed = groupNorm(e, hs, this.normOut.gamma, this.normOut.beta, {
      groups: this.hyper.normGroups, eps: this.hyper.normEps, act: 'silu', framesPerGroup: ctx.resnetFramesPerGroup,
    });
    hs.release();
    const out = conv2d(e, normed, this.convOut);
    normed.release();
    return out;
  }

  release(): void {
    releaseWeight(this.timeLinear1);
    releaseWeight(this.timeLinear2);
    releaseWeight(this.convIn);
    for (const d of this.down) d.release();
    this.mid.release();
    for (const u of this.up) u.release();
    releaseNorm(this.normOut);
    releaseWeight(this.convOut);
  }
}
