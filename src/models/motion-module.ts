// AnimateDiff motion module: diffusers AnimateDiffTransformer3D = original VanillaTemporalModule
// (guoyww/AnimateDiff animatediff/models/motion_module.py; research notes §1.1):
//
//   x [b*F, h, w, C]  (NHWC, frames folded into the batch, row n = b*F + f; P = h*w positions)
//   t = proj_in(GN(x))                      GN eps 1e-6: per frame (official) or pooled over the F frames (diffusers)
//   per transformer block, per attention sub-layer k (attn1, attn2; both temporal *self*-attention):
//       y = LN_k(t) + pe[f]                 pe = sinusoid, added to the normed input only (feeds q, k and v)
//       t += to_out(attn_over_frames(y·Wqᵀ, y·Wkᵀ, y·Wvᵀ))
//     t += FF(LN3(t))                       GEGLU, C → 8C → (4C) → C
//   out = proj_out(t) + x
//
// The positional encoding is folded through the fused QKV projection: (y + pe)·Wᵀ = y·Wᵀ + (pe·Wᵀ)[f], so a
// per-frame [F, 3C] table rides in the GEMM epilogue as a row bias (row r of the [b*F*P, 3C] output is frame
// floor(r / P) mod F). The table is computed from the sinusoid (never loaded: checkpoints' pe buffers are
// ignored, as the official loader does), once at load for the first `peLength` frames.
// The temporal attention reads the F frames of one position with strided loads: no transpose.
//
// FreeNoise (diffusers FreeNoiseTransformerBlock, models/attention.py:1556-1679): with `windows`, each transformer
// block runs its two temporal self-attentions per window of L frames (gathered; positions 0..L-1 in every window)
// and blends the window outputs per frame with the schedule's coefficients before norm3 + FF on all frames:
//   acc[f] = Σ_w c_w[f - start_w] · (h + attn1 + attn2)_w[f - start_w];  out = acc + FF(LN3(acc)).
// GroupNorm, proj_in/proj_out and the FF always see every frame.
// Motion strength s: out = x + s·(module(x) − x) = x + s·proj_out(t), folded into proj_out's epilogue.
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';
import { add } from '../ops/add';
import { accumulateFrames, gatherFrames } from '../ops/frame-window';
import { groupNorm } from '../ops/groupnorm';
import { layerNorm } from '../ops/layernorm';
import { linear } from '../ops/linear';
import { sinusoidalPositionalEncoding } from '../ops/positional-encoding';
import { temporalAttention } from '../ops/temporal-attention';
import type { LinearWeight } from '../ops/weights';
import { type ChunkLimits, unitsPerChunk } from '../plan/chunking';
import { chunkLimits, gatherPositions, scatterPositions } from './chunking';
import type { MotionForwardOptions, MotionProbeFn, TemporalWindows } from './forward-context';
import { loadFusedLinear, loadLinear, loadNorm, type NormParams, releaseNorm, releaseWeight, Scope, ModelWeightsError } from './layers';
import type { WeightMap } from '../weights/weight-map';
import { feedForward, type FeedForward, loadFeedForward, releaseFeedForward } from './transformer2d';

const GN_EPS = 1e-6;
const LN_EPS = 1e-5;
/** PE rows prepared at load when the weights do not say (v2/v3 train with 32; rows do not depend on the length). */
const DEFAULT_PE_LENGTH = 32;

export interface MotionModuleConfig {
  /** motion_num_attention_heads (8 in every released module). */
  heads: number;
  /** motion_norm_num_groups (32 in every released module). */
  groups: number;
  /** PE rows to precompute (≥ the usual frame count); longer clips compute a table per call. */
  peLength?: number;
}

/** One temporal self-attention sub-layer: LayerNorm, QKV (+PE row bias), attention over frames, to_out (+residual). */
class TemporalAttentionLayer {
  constructor(
    readonly norm: NormParams,
    readonly qkv: LinearWeight,
    readonly out: LinearWeight,
    /** pe[:L]·Wqkvᵀ, [L, 3C]. */
    readonly peTable: Tensor,
  ) {}

  static async load(e: Engine, s: Scope, normName: string, attnName: string, C: number, peLength: number): Promise<TemporalAttentionLayer> {
    const norm = await loadNorm(e, s, normName, C);
    const { weight: qkv } = await loadFusedLinear(e, s, [`${attnName}.to_q`, `${attnName}.to_k`, `${attnName}.to_v`], C);
    const out = await loadLinear(e, s, `${attnName}.to_out.0`, { in: C, out: C });
    return new TemporalAttentionLayer(norm, qkv, out, s.track(peQkvTable(e, qkv, peLength, C)));
  }

  /**
   * t [b*F, P, C] → t + attn(LN(t) + pe). Does not release t. Attention is per position, so when the fused QKV
   * [b*F*P, 3C] would exceed `lim.maxTensorBytes` it runs over chunks of positions (src/plan decides how many).
   * `probe` (debug, unchunked): sees the attention input LN(t) + pe and the to_out output, computed unfused.
   */
  forward(e: Engine, t: Tensor, frames: number, heads: number, lim: ChunkLimits, probe?: (what: 'in' | 'out', x: Tensor) => void): Tensor {
    const [R, P, C] = t.shape;
    const y = layerNorm(e, t, this.norm.gamma, this.norm.beta, LN_EPS);
    const own = frames > this.peTable.shape[0];
    const table = own ? peQkvTable(e, this.qkv, frames, C) : this.peTable.slice0(0, frames);
    try {
      if (probe) return this.probed(e, y, t, table, frames, heads, probe);
      const per = unitsPerChunk(lim, R * 3 * C * lim.bytesPerValue, P, 'motion-module attention');
      if (per >= P) return this.positions(e, y, t, table, frames, heads);
      const out = e.empty(t.shape, t.dtype);
      for (let p0 = 0; p0 < P; p0 += per) {
        const n = Math.min(per, P - p0);
        const yc = gatherPositions(e, y, p0, n), tc = gatherPositions(e, t, p0, n);
        const oc = this.positions(e, yc, tc, table, frames, heads);
        yc.release();
        tc.release();
        scatterPositions(e, oc, out, p0);
        oc.release();
      }
      return out;
    } finally {
      y.release();
      if (own) table.release();
    }
  }

  /** `positions` on its unfused debug path: probes LN(t) + pe and to_out's output. */
  private probed(e: Engine, y: Tensor, t: Tensor, table: Tensor, frames: number, heads: number, probe: (what: 'in' | 'out', x: Tensor) => void): Tensor {
    probeWithPositions(e, y, frames, probe);
    const qkv = linear(e, y, this.qkv, { rowBias: { table, rowsPerEntry: y.shape[1] } });
    const a = temporalAttention(e, qkv, { frames, heads });
    qkv.release();
    const o = linear(e, a, this.out);
    a.release();
    probe('out', o);
    const out = add(e, t, o);
    o.release();
    return out;
  }

  /** t + to_out(attn(y·Wqkvᵀ + pe·Wqkvᵀ)) over the positions y and t [b*F, P', C] hold. */
  private positions(e: Engine, y: Tensor, t: Tensor, table: Tensor, frames: number, heads: number): Tensor {
    const qkv = linear(e, y, this.qkv, { rowBias: { table, rowsPerEntry: y.shape[1] } });
    const a = temporalAttention(e, qkv, { frames, heads });
    qkv.release();
    const out = linear(e, a, this.out, { residual: t });
    a.release();
    return out;
  }

  release(): void {
    releaseNorm(this.norm);
    releaseWeight(this.qkv);
    releaseWeight(this.out);
    this.peTable.release();
  }
}

/** (pe[:rows])·Wqkvᵀ on the GPU: [rows, 3C]. The sinusoid is float64 math rounded once (ops/positional-encoding). */
function peQkvTable(e: Engine, qkv: LinearWeight, rows: number, C: number): Tensor {
  const pe = e.upload(sinusoidalPositionalEncoding(rows, C), [rows, C]);
  const table = linear(e, pe, qkv);
  pe.release();
  return table;
}

/** Debug only: probe LN(t) + pe[f] (row (b*F + f)*P + p) as the attention sees it, on an unfused path. */
function probeWithPositions(e: Engine, y: Tensor, frames: number, probe: (what: 'in', x: Tensor) => void): void {
  const [rows, P, C] = y.shape;
  const pe = sinusoidalPositionalEncoding(frames, C);
  const tiled = new Float32Array(y.size);
  for (let r = 0; r < rows; r++) for (let p = 0; p < P; p++) tiled.set(pe.subarray((r % frames) * C, (r % frames + 1) * C), (r * P + p) * C);
  const peT = e.upload(tiled, y.shape);
  const yin = add(e, y, peT);
  peT.release();
  probe('in', yin);
  yin.release();
}

class TemporalTransformerBlock {
  constructor(readonly attns: TemporalAttentionLayer[], readonly norm3: NormParams, readonly ff: FeedForward) {}

  forward(e: Engine, t: Tensor, frames: number, heads: number, lim: ChunkLimits, windows?: TemporalWindows, probe?: MotionProbeFn): Tensor {
    probe?.('block_in', t);
    if (windows) {
      const blended = this.blendWindows(e, t, frames, heads, lim, windows, probe);
      try {
        probe?.('blended', blended);
        const out = feedForward(e, blended, this.norm3, this.ff, lim);
        probe?.('block_out', out);
        return out;
      } finally {
        blended.release();
      }
    }
    let cur = t;
    for (const [k, attn] of this.attns.entries()) {
      const next = attn.forward(e, cur, frames, heads, lim, probe && ((what, x) => probe(`attn${k + 1}_${what}`, x)));
      if (cur !== t) cur.release();
      cur = next;
    }
    const out = feedForward(e, cur, this.norm3, this.ff, lim);
    if (cur !== t) cur.release();
    probe?.('block_out', out);
    return out;
  }

  /** FreeNoise: Σ over windows of c[j]·(attn2 ∘ attn1)(t[window]) per frame, [b*F, P, C] (a new tensor). */
  private blendWindows(e: Engine, t: Tensor, frames: number, heads: number, lim: ChunkLimits, win: TemporalWindows, probe?: MotionProbeFn): Tensor {
    const L = win.length;
    const acc = e.empty(t.shape, t.dtype);
    try {
      let written = 0;
      for (const [wi, w] of win.windows.entries()) {
        let h = gatherFrames(e, t, frames, w.start, L);
        try {
          for (const [k, attn] of this.attns.entries()) {
            const next = attn.forward(e, h, L, heads, lim, probe && ((what, x) => probe(`window${wi}.attn${k + 1}_${what}`, x)));
            h.release();
            h = next;
          }
          accumulateFrames(e, acc, h, frames, { start: w.start, from: w.from, coefficients: w.coefficients, written });
        } finally {
          h.release();
        }
        written = Math.max(written, w.start + L);
      }
      return acc;
    } catch (err) {
      acc.release();
      throw err;
    }
  }

  release(): void {
    for (const a of this.attns) a.release();
    releaseNorm(this.norm3);
    releaseFeedForward(this.ff);
  }
}

export class MotionModule {
  private constructor(
    /** The weight prefix (e.g. `down_blocks.3.motion_modules.0`): what a debug probe names. */
    readonly name: string,
    readonly channels: number,
    private readonly cfg: MotionModuleConfig,
    private readonly norm: NormParams,
    private readonly projIn: LinearWeight,
    private readonly blocks: TemporalTransformerBlock[],
    private readonly projOut: LinearWeight,
  ) {}

  /**
   * Weights under `s` in canonical diffusers naming (`norm`, `proj_in`, `transformer_blocks.N.{norm1, attn1, norm2,
   * attn2, norm3, ff}`, `proj_out`); C from `proj_in.weight`, the block count from the names.
   */
  static async load(e: Engine, s: Scope | WeightMap, cfg: MotionModuleConfig): Promise<MotionModule> {
    const scope = s instanceof Scope ? s : new Scope(s);
    try {
      return await MotionModule.loadIn(e, scope, cfg);
    } catch (err) {
      if (!(s instanceof Scope)) scope.releaseLoaded(); // a caller's scope is the caller's to undo
      throw err;
    }
  }

  private static async loadIn(e: Engine, scope: Scope, cfg: MotionModuleConfig): Promise<MotionModule> {
    const C = scope.shape('proj_in.weight')[0];
    if (C % cfg.heads !== 0) throw new ModelWeightsError(`${scope.prefix || 'motion module'}: ${C} channels do not split into ${cfg.heads} heads`);
    const peLength = Math.max(cfg.peLength ?? DEFAULT_PE_LENGTH, 1);
    const norm = await loadNorm(e, scope, 'norm', C);
    const projIn = await loadLinear(e, scope, 'proj_in', { in: C, out: C, bias: 'required' });
    const count = scope.count('transformer_blocks', 'norm1.weight');
    if (count < 1) throw new ModelWeightsError(`${scope.prefix || 'motion module'}: no transformer_blocks`);
    const blocks: TemporalTransformerBlock[] = [];
    for (let i = 0; i < count; i++) {
      const b = scope.pp('transformer_blocks').pp(i);
      const attns = [await TemporalAttentionLayer.load(e, b, 'norm1', 'attn1', C, peLength)];
      // Released modules have two sub-layers; SparseCtrl's have one (no attn2).
      if (b.has('attn2.to_q.weight')) attns.push(await TemporalAttentionLayer.load(e, b, 'norm2', 'attn2', C, peLength));
      blocks.push(new TemporalTransformerBlock(attns, await loadNorm(e, b, 'norm3', C), await loadFeedForward(e, b, C)));
    }
    const projOut = await loadLinear(e, scope, 'proj_out', { in: C, out: C, bias: 'required' });
    return new MotionModule(scope.prefix, C, cfg, norm, projIn, blocks, projOut);
  }

  /**
   * x [b*F, h, w, C] → same (a new tensor; x is not released). `framesPerGroup`: 1 = official per-frame GroupNorm,
   * F = diffusers' GroupNorm pooled over the frames of each sample. `lim`: largest tensor a layer may
   * make before it runs in row chunks (default: the binding limit). `opts`: FreeNoise windows, motion strength,
   * a debug probe (forward-context.ts).
   */
  forward(e: Engine, x: Tensor, frames: number, framesPerGroup: number, lim: ChunkLimits = chunkLimits(e), opts: MotionForwardOptions = {}): Tensor {
    const [nf, h, w, C] = x.shape;
    if (x.shape.length !== 4 || C !== this.channels) throw new RangeError(`MotionModule: input ${x}, expected [b*F, h, w, ${this.channels}]`);
    if (!Number.isInteger(frames) || frames < 1 || nf % frames !== 0) throw new RangeError(`MotionModule: ${nf} rows are not a whole number of ${frames}-frame clips`);
    if (framesPerGroup !== 1 && framesPerGroup !== frames) throw new RangeError(`MotionModule: framesPerGroup must be 1 or ${frames}`);
    const strength = opts.strength ?? 1;
    if (!Number.isFinite(strength)) throw new RangeError(`MotionModule: strength ${strength} must be finite`);
    if (opts.windows) checkWindows(opts.windows, frames);
    const probe = opts.probe?.module === this.name ? opts.probe : undefined;
    // 1. GroupNorm, then proj_in over the tokens [b*F, P, C]
    const normed = groupNorm(e, x, this.norm.gamma, this.norm.beta, { groups: this.cfg.groups, eps: GN_EPS, framesPerGroup });
    let t = linear(e, normed.reshape([nf, h * w, C]), this.projIn);
    normed.release();
    // 2. temporal transformer blocks
    for (const [i, block] of this.blocks.entries()) {
      const fn = probe?.block === i ? probe.fn : undefined;
      const next = block.forward(e, t, frames, this.cfg.heads, lim, opts.windows, fn);
      t.release();
      t = next;
    }
    // 3. proj_out with the outer residual and the motion strength fused: x + s·proj_out(t); output in x's NHWC shape
    const out = linear(e, t.reshape([nf, h, w, C]), this.projOut, { residual: x, scale: strength === 1 ? undefined : strength });
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

/** The windows must tile 0..F-1 in order (each starting inside or right after what came before) with L ≤ F. */
function checkWindows(win: TemporalWindows, frames: number): void {
  const L = win.length;
  const what = `MotionModule: FreeNoise windows of ${L} frames over ${frames} frames`;
  if (!Number.isInteger(L) || L < 1 || L > frames) throw new RangeError(`${what}: the window length must be 1..${frames}`);
  if (!win.windows.length) throw new RangeError(`${what}: no windows`);
  let written = 0;
  for (const w of win.windows) {
    if (w.coefficients.length !== L) throw new RangeError(`${what}: a window has ${w.coefficients.length} coefficients`);
    if (!Number.isInteger(w.start) || w.start < 0 || w.start + L > frames) throw new RangeError(`${what}: window [${w.start}, ${w.start + L}) is out of range`);
    if (w.start + w.from > written) throw new RangeError(`${what}: frames ${written}..${w.start + w.from - 1} are in no window`);
    written = Math.max(written, w.start + L);
  }
  if (written !== frames) throw new RangeError(`${what}: frames ${written}..${frames - 1} are in no window`);
}
