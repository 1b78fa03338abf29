// One UNet layer (ResNet block → spatial transformer → motion module, src/models/unet-blocks.ts UNetLayer) as ONNX
// graphs on the same canonical (diffusers-named) weights our models load: for comparing onnxruntime-web with our
// engine per UNet level (bench/cases/unet-level.ts), and as an independent cross-check of ResnetBlock and
// Transformer2D (tests/text/unet-layer-graph.test.ts). src/models/resnet.ts and transformer2d.ts are the reference
// semantics:
//
//   ResNet (x [B·F, h·w, Cin], temb = silu(time embedding) [B, Te]):
//     h = conv3×3(silu(GN1(x))) + (temb·Wtᵀ + bt)[b]        GN eps from the config, per frame (or per clip: v1)
//     out = conv3×3(silu(GN2(h))) + shortcut(x)             shortcut: 1×1 conv when Cin ≠ Cout, else identity
//   Transformer2D (x [B·F, h·w, C], text [B, T, Dt]):
//     t = proj_in(GN(x))                                     GN eps 1e-6, per frame
//     per block: t += attn1(LN1(t))                          self-attention over the h·w tokens of each frame
//                t += attn2(LN2(t), text)                    all F frames of sample b (F·h·w queries) attend to text[b]
//                t += FF(LN3(t))                             GEGLU
//     out = proj_out(t) + x
//   Motion module: src/onnx/motion-module-graph.ts.
// The 3×3 convs run in NCHW (ONNX's Conv layout) between Transposes; everything else on the tokens.
import type { WeightMap } from '../weights/weight-map';
import { OnnxGraphBuilder } from './graph-builder';
import { GraphScope, multiHeadAttention } from './graph-layers';
import { addMotionModule } from './motion-module-graph';

const TRANSFORMER_GN_EPS = 1e-6;
const LN_EPS = 1e-5;

export interface UNetLayerGraphShape {
  batch: number;
  frames: number;
  height: number;
  width: number;
}

export interface ResnetGraphConfig {
  groups: number;
  eps: number;
  /** GroupNorm pooling: 1 = per frame (v2/v3, diffusers), `frames` = over each clip (official v1). Default 1. */
  framesPerGroup?: number;
}

export interface Transformer2DGraphConfig {
  heads: number;
  groups: number;
}

export interface MotionGraphConfig {
  heads: number;
  groups: number;
  /** Default 1 (official per-frame GroupNorm). */
  framesPerGroup?: number;
}

function checkLayerShape(s: UNetLayerGraphShape, what: string): void {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${k} must be a positive integer, got ${v}`);
  }
}

/** A ResNet block under scope `w` on tokens x [B·F, h·w, Cin] with `temb` [B, Te]; returns [B·F, h·w, Cout]. */
export async function addResnet(w: GraphScope, x: string, temb: string | null, s: UNetLayerGraphShape, cfg: ResnetGraphConfig): Promise<string> {
  const { g } = w;
  const rows = s.batch * s.frames, P = s.height * s.width;
  const [cout, cin] = w.shape('conv1.weight');
  if (w.shape('norm1.weight')[0] !== cin) throw new Error(`onnx graph ${g.graphName}: ${w.name('norm1.weight')} does not match conv1's ${cin} input channels`);
  const norm = { rows, positions: P, groups: cfg.groups, eps: cfg.eps, framesPerGroup: cfg.framesPerGroup, silu: true };
  const conv = { rows, height: s.height, width: s.width };
  let h = await w.conv3x3(await w.groupNorm(x, 'norm1', norm), 'conv1', conv);
  if (w.has('time_emb_proj.weight')) {
    if (!temb) throw new Error(`onnx graph ${g.graphName}: ${w.prefix} adds a time embedding; the graph has none`);
    // [B, Cout] → [B, 1, Cout], added to h viewed as [B, F·h·w, Cout]
    const tproj = g.node('Reshape', [await w.linear(temb, 'time_emb_proj'), g.int64([s.batch, 1, cout])]);
    h = g.node('Reshape', [g.node('Add', [g.node('Reshape', [h, g.int64([s.batch, s.frames * P, cout])]), tproj]), g.int64([rows, P, cout])]);
  }
  h = await w.conv3x3(await w.groupNorm(h, 'norm2', norm), 'conv2', conv);
  const short = w.has('conv_shortcut.weight') ? await w.linear(x, 'conv_shortcut') : x;
  if (short === x && cin !== cout) throw new Error(`onnx graph ${g.graphName}: ${cin} → ${cout} channels needs ${w.name('conv_shortcut.weight')}`);
  return g.node('Add', [h, short]);
}

/** A Transformer2DModel under scope `w` on tokens x [B·F, h·w, C] with per-sample `text` [B, T, Dt]. */
export async function addTransformer2D(w: GraphScope, x: string, text: string, textTokens: number, s: UNetLayerGraphShape, cfg: Transformer2DGraphConfig): Promise<string> {
  const { g } = w;
  const rows = s.batch * s.frames, P = s.height * s.width;
  const C = w.shape('norm.weight')[0];
  const heads = cfg.heads;
  let t = await w.linear(await w.groupNorm(x, 'norm', { rows, positions: P, groups: cfg.groups, eps: TRANSFORMER_GN_EPS }), 'proj_in');
  for (let i = 0; w.has(`transformer_blocks.${i}.norm1.weight`); i++) {
    const b = w.pp('transformer_blocks').pp(i);
    // self-attention: the h·w tokens of each frame
    let y = await b.layerNorm(t, 'norm1', LN_EPS);
    const a1 = b.pp('attn1');
    let ctx = multiHeadAttention(g, await a1.linear(y, 'to_q'), await a1.linear(y, 'to_k'), await a1.linear(y, 'to_v'), { groups: rows, lq: P, lk: P, channels: C, heads });
    t = g.node('Add', [t, await a1.linear(g.node('Reshape', [ctx, g.int64([rows, P, C])]), 'to_out.0')]);
    // cross-attention: sample b's F·h·w queries against its text tokens
    y = await b.layerNorm(t, 'norm2', LN_EPS);
    const a2 = b.pp('attn2');
    ctx = multiHeadAttention(g, await a2.linear(y, 'to_q'), await a2.linear(text, 'to_k'), await a2.linear(text, 'to_v'),
      { groups: s.batch, lq: s.frames * P, lk: textTokens, channels: C, heads });
    t = g.node('Add', [t, await a2.linear(g.node('Reshape', [ctx, g.int64([rows, P, C])]), 'to_out.0')]);
    t = g.node('Add', [t, await b.gegluFeedForward(await b.layerNorm(t, 'norm3', LN_EPS), 'ff')]);
  }
  return g.node('Add', [await w.linear(t, 'proj_out'), x]);
}

export interface UNetLayerGraphSpec {
  /** Weight prefixes (e.g. `down_blocks.1.resnets.1`); attention / motion may be absent (a block without them). */
  resnet: string;
  attention?: string;
  motion?: string;
  resnetConfig: ResnetGraphConfig;
  attentionConfig?: Transformer2DGraphConfig;
  motionConfig?: MotionGraphConfig;
  /** Width of silu(time embedding) (time_emb_proj's input) and of the text embeddings, and the text length. */
  timeEmbedDim: number;
  crossAttentionDim: number;
  textTokens: number;
}

/**
 * The ONNX model of one UNet layer: inputs `x` [B·F, h·w, Cin] (NHWC flattened), `temb` [B, timeEmbedDim]
 * (silu already applied, as ForwardContext.tembAct) and, with attention, `text` [B, T, crossAttentionDim];
 * output `y` [B·F, h·w, Cout].
 */
export async function buildUNetLayerGraph(weights: WeightMap, shape: UNetLayerGraphShape, spec: UNetLayerGraphSpec): Promise<Uint8Array> {
  checkLayerShape(shape, 'UNet layer graph');
  const g = new OnnxGraphBuilder('unet_layer');
  const root = new GraphScope(g, weights);
  const rows = shape.batch * shape.frames, P = shape.height * shape.width;
  const res = root.pp(spec.resnet);
  const [cout, cin] = res.shape('conv1.weight');
  const x = g.input('x', 'float32', [rows, P, cin]);
  const temb = g.input('temb', 'float32', [shape.batch, spec.timeEmbedDim]);
  let h = await addResnet(res, x, temb, shape, spec.resnetConfig);
  if (spec.attention) {
    if (!spec.attentionConfig) throw new Error('UNet layer graph: attention without attentionConfig');
    const text = g.input('text', 'float32', [shape.batch, spec.textTokens, spec.crossAttentionDim]);
    h = await addTransformer2D(root.pp(spec.attention), h, text, spec.textTokens, shape, spec.attentionConfig);
  }
  if (spec.motion) {
    if (!spec.motionConfig) throw new Error('UNet layer graph: motion module without motionConfig');
    h = await addMotionModule(root.pp(spec.motion), h, { batch: shape.batch, frames: shape.frames, positions: P, channels: cout, ...spec.motionConfig });
  }
  g.output(h, 'y', 'float32', [rows, P, cout]);
  return g.toBytes();
}
