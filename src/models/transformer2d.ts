// diffusers Transformer2DModel as SD1.5 uses it (continuous input, one BasicTransformerBlock per layer):
//   t = proj_in(GN(x))                          GN per frame, eps 1e-6; proj_in 1×1 conv or linear (same op in NHWC)
//   per block:  t += attn1(LN1(t))              self-attention over the h·w tokens of one frame
//               t += attn2(LN2(t), text)        cross-attention to the sample's text tokens
//               t += FF(LN3(t))                 GEGLU: Linear(C→8C) → value·gelu(gate) → Linear(4C→C)
//   out = proj_out(t) + x
// Tokens are the NHWC rows: [b*F, h*w, C]. Frames never mix here. The text is one per sample [b, tokens, D] or
// one per frame [b*F, tokens, D] (row b*F + f, as the latents).
import type { Engine } from '../gpu/engine';
import { bytesPerElement, type Tensor } from '../gpu/tensor';
import { attention } from '../ops/attention';
import { geglu } from '../ops/elementwise';
import { groupNorm } from '../ops/groupnorm';
import { layerNorm } from '../ops/layernorm';
import { linear } from '../ops/linear';
import { type LinearWeight, outFeatures } from '../ops/weights';
import { type ChunkLimits, rowsPerChunk } from '../plan/chunking';
import { chunkLimits, mapRowChunks } from './chunking';
import type { ForwardContext } from './forward-context';
import { loadFusedLinear, loadLinear, loadNorm, type NormParams, releaseNorm, releaseWeight, type Scope, ModelWeightsError } from './layers';

/** LayerNorm eps of BasicTransformerBlock (diffusers default norm_eps) and GroupNorm eps of Transformer2DModel. */
const LN_EPS = 1e-5;
const GN_EPS = 1e-6;

/** GEGLU feed-forward (diffusers FeedForward, activation_fn "geglu"): ff.net.0.proj [2·I, C], ff.net.2 [C, I]. */
export interface FeedForward {
  proj: LinearWeight;
  out: LinearWeight;
}

export async function loadFeedForward(e: Engine, s: Scope, channels: number): Promise<FeedForward> {
  const inner2 = s.shape('ff.net.0.proj.weight')[0];
  if (inner2 % 2 !== 0) throw new ModelWeightsError(`${s.name('ff.net.0.proj.weight')}: GEGLU needs an even output width, got ${inner2}`);
  return {
    proj: await loadLinear(e, s, 'ff.net.0.proj', { in: channels, out: inner2 }),
    out: await loadLinear(e, s, 'ff.net.2', { in: inner2 / 2, out: channels }),
  };
}

/**
 * t + FF(norm(t)): the residual is fused into the last linear. Does not release t. FF is row-wise, so when its
 * hidden state [rows, 2·I] would exceed `lim.maxTensorBytes` it runs over aligned row chunks (src/plan decides how
 * many rows) written into one output.
 */
export function feedForward(e: Engine, t: Tensor, norm: NormParams, ff: FeedForward, lim: ChunkLimits = chunkLimits(e)): Tensor {
  const C = t.shape[t.shape.length - 1];
  const rows = t.size / C;
  const hiddenRowBytes = outFeatures(ff.proj) * bytesPerElement(t.dtype);
  if (rows * hiddenRowBytes <= lim.maxTensorBytes) return feedForwardRows(e, t, norm, ff);
  const flat = t.reshape([rows, C]);
  const chunk = rowsPerChunk(lim, hiddenRowBytes, C, 'feed-forward');
  return mapRowChunks(e, rows, chunk, t.shape, (start, count) => feedForwardRows(e, flat.slice0(start, count), norm, ff));
}

function feedForwardRows(e: Engine, t: Tensor, norm: NormParams, ff: FeedForward): Tensor {
  const y = layerNorm(e, t, norm.gamma, norm.beta, LN_EPS);
  const hidden = linear(e, y, ff.proj);
  y.release();
  const gated = geglu(e, hidden);
  hidden.release();
  const out = linear(e, gated, ff.out, { residual: t });
  gated.release();
  return out;
}

export function releaseFeedForward(ff: FeedForward): void {
  releaseWeight(ff.proj);
  releaseWeight(ff.out);
}

/** One BasicTransformerBlock with fused QKV for self-attention and fused KV for cross-attention. */
class BasicTransformerBlock {
  constructor(
    private readonly channels: number,
    private readonly heads: number,
    private readonly norm1: NormParams,
    private readonly selfQkv: LinearWeight,
    private readonly selfOut: LinearWeight,
    private readonly norm2: NormParams,
    private readonly crossQ: LinearWeight,
    private readonly crossKv: LinearWeight,
    private readonly crossOut: LinearWeight,
    private readonly norm3: NormParams,
    private readonly ff: FeedForward,
  ) {}

  static async load(e: Engine, s: Scope, channels: number, heads: number, crossDim: number): Promise<BasicTransformerBlock> {
    const C = channels;
    return new BasicTransformerBlock(
      C, heads,
      await loadNorm(e, s, 'norm1', C),
      (await loadFusedLinear(e, s, ['attn1.to_q', 'attn1.to_k', 'attn1.to_v'], C)).weight,
      await loadLinear(e, s, 'attn1.to_out.0', { in: C, out: C, bias: 'required' }),
      await loadNorm(e, s, 'norm2', C),
      await loadLinear(e, s, 'attn2.to_q', { in: C, out: C, bias: 'none' }),
      (await loadFusedLinear(e, s, ['attn2.to_k', 'attn2.to_v'], crossDim)).weight,
      await loadLinear(e, s, 'attn2.to_out.0', { in: C, out: C, bias: 'required' }),
      await loadNorm(e, s, 'norm3', C),
      await loadFeedForward(e, s, C),
    );
  }

  /** t [b*F, L, C] → same. Does not release t. */
  forward(ctx: ForwardContext, t: Tensor): Tensor {
    const { e } = ctx;
    const C = this.channels;
    const [nf, L] = t.shape;
    // 1. self-attention over the L tokens of each frame, q|k|v as column slices of one [nf, L, 3C] projection
    let y = layerNorm(e, t, this.norm1.gamma, this.norm1.beta, LN_EPS);
    const qkv = linear(e, y, this.selfQkv);
    y.release();
    let a = attention(e, qkv, qkv, qkv, {
      heads: this.heads, q: { stride: 3 * C, offset: 0 }, k: { stride: 3 * C, offset: C }, v: { stride: 3 * C, offset: 2 * C },
    });
    qkv.release();
    const t1 = linear(e, a, this.selfOut, { residual: t });
    a.release();
    // 2. cross-attention. Text per sample [b, tokens, D]: all F frames of sample b attend to the same text, so the
    //    queries of one sample are viewed as one sequence [b, F*L, C] against k|v [b, tokens, 2C] (no per-frame
    //    repeat). Text per frame [b*F, tokens, D] (prompt travel): each frame's L queries attend to their own text,
    //    [b*F, L, C] against [b*F, tokens, 2C]. Both are `groups` sequences of nf·L/groups queries.
    y = layerNorm(e, t1, this.norm2.gamma, this.norm2.beta, LN_EPS);
    const q = linear(e, y, this.crossQ);
    y.release();
    const kv = linear(e, ctx.text, this.crossKv);
    const groups = ctx.text.shape[0];
    a = attention(e, q.reshape([groups, (nf / groups) * L, C]), kv, kv, {
      heads: this.heads, k: { stride: 2 * C, offset: 0 }, v: { stride: 2 * C, offset: C },
    });
    q.release();
    kv.release();
    const t2 = linear(e, a.reshape([nf, L, C]), this.crossOut, { residual: t1 });
    a.release();
    t1.release();
    // 3. GEGLU feed-forward
    const out = feedForward(e, t2, this.norm3, this.ff, ctx.limits);
    t2.release();
    return out;
  }

  release(): void {
    for (const n of [this.norm1, this.norm2, this.norm3]) releaseNorm(n);
    for (const w of [this.selfQkv, this.selfOut, this.crossQ, this.crossKv, this.crossOut]) releaseWeight(w);
    releaseFeedForward(this.ff);
  }
}

export interface Transformer2DConfig {
  heads: number;
  groups: number;
  crossAttentionDim: number;
}

export class Transformer2D {
  private constructor(
    readonly channels: number,
    private readonly groups: number,
    private readonly norm: NormParams,
    private readonly projIn: LinearWeight,
    private readonly blocks: BasicTransformerBlock[],
    private readonly projOut: LinearWeight,
  ) {}

  /** Weights under `s` (e.g. `down_blocks.0.attentions.1`). */
  static async load(e: Engine, s: Scope, channels: number, cfg: Transformer2DConfig): Promise<Transformer2D> {
    const C = channels;
    if (C % cfg.heads !== 0) throw new ModelWeightsError(`${s.prefix}: ${C} channels do not split into ${cfg.heads} heads`);
    const inner = s.shape('proj_in.weight')[0];
    if (inner !== C) throw new ModelWeightsError(`${s.prefix}: proj_in to ${inner} channels; only inner dim = in channels (SD1.5) is supported`);
    const norm = await loadNorm(e, s, 'norm', C);
    const projIn = await loadLinear(e, s, 'proj_in', { in: C, out: C });
    const count = s.count('transformer_blocks', 'norm1.weight');
    if (count < 1) throw new ModelWeightsError(`${s.prefix}: no transformer_blocks`);
    const blocks: BasicTransformerBlock[] = [];
    for (let i = 0; i < count; i++) blocks.push(await BasicTransformerBlock.load(e, s.pp('transformer_blocks').pp(i), C, cfg.heads, cfg.crossAttentionDim));
    const projOut = await loadLinear(e, s, 'proj_out', { in: C, out: C });
    return new Transformer2D(C, cfg.groups, norm, projIn, blocks, projOut);
  }

  /** x [b*F, H, W, C] → same. Does not release x. */
  forward(ctx: ForwardContext, x: Tensor): Tensor {
    const { e } = ctx;
    const [nf, H, W, C] = x.shape;
    if (C !== this.channels) throw new RangeError(`Transformer2D: input ${x}, expected ${this.channels} channels`);
    const normed = groupNorm(e, x, this.norm.gamma, this.norm.beta, { groups: this.groups, eps: GN_EPS });
    let t = linear(e, normed.reshape([nf, H * W, C]), this.projIn);
    normed.release();
    for (const block of this.blocks) {
      const next = block.forward(ctx, t);
      t.release();
      t = next;
    }
    // proj_out over the NHWC view of the tokens, outer residual fused: the output is [b*F, H, W, C].
    const out = linear(e, t.reshape([nf, H, W, C]), this.projOut, { residual: x });
    t.release();
    return out;
  }

  release(): void {
    releaseNorm(this.norm);
    releaseWeight(this.projIn);
    releaseWeight(this.projOut);
    for (const b of this.blocks) b.release();
  }
}
