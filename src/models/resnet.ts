// diffusers ResnetBlock2D (SD1.5 "default" time-scale-shift, output_scale_factor 1):
//   h = conv1(silu(GN1(x))) + time_emb_proj(silu(temb))[b]      (temb broadcast over frames and pixels)
//   out = conv2(silu(GN2(h))) + shortcut(x)                      (shortcut: 1×1 conv when Cin ≠ Cout)
// The VAE decoder's ResnetBlock2D is the same block without a time embedding (temb_channels=None: no time_emb_proj).
// NHWC [b*F, H, W, C]. The time-embedding add is fused into conv1 as a per-sample row bias and the residual
// into conv2's epilogue; SiLU is fused into the GroupNorms.
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';
import { conv2d } from '../ops/conv2d';
import { groupNorm } from '../ops/groupnorm';
import { linear } from '../ops/linear';
import type { Conv2dWeight, LinearWeight } from '../ops/weights';
import type { ForwardContext } from './forward-context';
import { loadConv, loadLinear, loadNorm, type NormParams, releaseNorm, releaseWeight, type Scope, ModelWeightsError } from './layers';
import { convRows, groupNormRows, mapRowTiles, type RowTiles } from './row-tiles';

export interface ResnetConfig {
  groups: number;
  eps: number;
  /** Width of the time embedding (time_emb_proj's input); 0 for blocks without one (the VAE's). */
  timeEmbedDim: number;
}

/** What a ResNet needs of the forward context (the VAE passes no time embedding). */
export type ResnetContext = Pick<ForwardContext, 'e' | 'batch' | 'frames' | 'resnetFramesPerGroup'> & { tembAct?: Tensor };

export class ResnetBlock {
  private constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    private readonly cfg: ResnetConfig,
    private readonly norm1: NormParams,
    private readonly conv1: Conv2dWeight,
    private readonly timeEmbProj: LinearWeight | null,
    private readonly norm2: NormParams,
    private readonly conv2: Conv2dWeight,
    private readonly shortcut: LinearWeight | null,
  ) {}

  /** Weights under `s` (e.g. `down_blocks.0.resnets.1`): norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut?. */
  static async load(e: Engine, s: Scope, inChannels: number, cfg: ResnetConfig): Promise<ResnetBlock> {
    const out = s.shape('conv1.weight')[0];
    const norm1 = await loadNorm(e, s, 'norm1', inChannels);
    const conv1 = await loadConv(e, s, 'conv1', { out, in: inChannels, kernel: 3 });
    const timeEmbProj = cfg.timeEmbedDim > 0 ? await loadLinear(e, s, 'time_emb_proj', { out, in: cfg.timeEmbedDim, bias: 'required' }) : null;
    if (!timeEmbProj && s.has('time_emb_proj.weight')) throw new ModelWeightsError(`${s.prefix}: time_emb_proj in a block configured without a time embedding`);
    const norm2 = await loadNorm(e, s, 'norm2', out);
    const conv2 = await loadConv(e, s, 'conv2', { out, in: out, kernel: 3 });
    // diffusers uses a 1×1 conv shortcut (use_in_shortcut = Cin != Cout); over NHWC it is a linear layer.
    const shortcut = s.has('conv_shortcut.weight') ? await loadLinear(e, s, 'conv_shortcut', { out, in: inChannels }) : null;
    if (!shortcut && inChannels !== out) throw new ModelWeightsError(`${s.prefix}: ${inChannels} → ${out} channels needs conv_shortcut, which the weights lack`);
    return new ResnetBlock(inChannels, out, cfg, norm1, conv1, timeEmbProj, norm2, conv2, shortcut);
  }

  /** x [b*F, H, W, Cin] → [b*F, H, W, Cout]. Does not release x. */
  forward(ctx: ResnetContext, x: Tensor): Tensor {
    const { e } = ctx;
    const [n, H, W, C] = x.shape;
    if (C !== this.inChannels || n !== ctx.batch * ctx.frames) throw new RangeError(`ResnetBlock: input ${x} for ${ctx.batch}×${ctx.frames} frames of ${this.inChannels} channels`);
    const norm = { groups: this.cfg.groups, eps: this.cfg.eps, act: 'silu' as const, framesPerGroup: ctx.resnetFramesPerGroup };
    const h1 = groupNorm(e, x, this.norm1.gamma, this.norm1.beta, norm);
    let h2: Tensor;
    if (this.timeEmbProj) {
      if (!ctx.tembAct) throw new RangeError('ResnetBlock: this block adds a time embedding; the context has none');
      const tproj = linear(e, ctx.tembAct, this.timeEmbProj); // [b, Cout]
      // Row r of the [b*F*H*W, Cout] output belongs to sample floor(r / (F*H*W)).
      h2 = conv2d(e, h1, this.conv1, { rowBias: { table: tproj, rowsPerEntry: ctx.frames * H * W } });
      tproj.release();
    } else {
      h2 = conv2d(e, h1, this.conv1);
    }
    h1.release();
    const h3 = groupNorm(e, h2, this.norm2.gamma, this.norm2.beta, norm);
    h2.release();
    const short = this.shortcut ? linear(e, x, this.shortcut) : x;
    const out = conv2d(e, h3, this.conv2, { residual: short });
    h3.release();
    if (short !== x) short.release();
    return out;
  }

  /**
   * The same block (without a time embedding: the VAE's) on images held as row tiles (./row-tiles.ts): GroupNorm
   * statistics of the whole image, 3×3 convs with halo rows. Per frame. Does not release x.
   */
  forwardRows(e: Engine, x: RowTiles): RowTiles {
    if (this.timeEmbProj) throw new RangeError('ResnetBlock.forwardRows: this block adds a time embedding; row tiles take blocks without one');
    const C = x.shape[3];
    if (C !== this.inChannels) throw new RangeError(`ResnetBlock.forwardRows: input [${x.shape.join(', ')}] for ${this.inChannels} channels`);
    const norm = { groups: this.cfg.groups, eps: this.cfg.eps, act: 'silu' as const };
    const h1 = groupNormRows(e, x, this.norm1, norm);
    let h2: RowTiles;
    try {
      h2 = convRows(e, h1, this.conv1);
    } finally {
      h1.release();
    }
    let h3: RowTiles;
    try {
      h3 = groupNormRows(e, h2, this.norm2, norm);
    } finally {
      h2.release();
    }
    try {
      const shortcut = this.shortcut;
      const short = shortcut ? mapRowTiles(x, (t) => linear(e, t, shortcut)) : x;
      try {
        return convRows(e, h3, this.conv2, { residual: short });
      } finally {
        if (short !== x) short.release();
      }
    } finally {
      h3.release();
    }
  }

  release(): void {
    releaseNorm(this.norm1);
    releaseNorm(this.norm2);
    for (const w of [this.conv1, this.conv2]) releaseWeight(w);
    if (this.timeEmbProj) releaseWeight(this.timeEmbProj);
    if (this.shortcut) releaseWeight(this.shortcut);
  }
}
