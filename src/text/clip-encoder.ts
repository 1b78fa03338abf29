// CLIP text encoder (transformers `CLIPTextModel`, ViT-L/14 in SD1.5) as an ONNX graph built here with
// the checkpoint's own weights as initializers, run by onnxruntime-web. Because the graph is built from
// whatever weights are loaded, personalised text encoders and merged text-encoder LoRA take effect.
//
// Math (per token row, width W, H heads of D = W/H):
//   x = tok_emb[ids] + pos_emb[0..S-1]
//   per layer: x += out_proj(causal_MHA(LN1(x)));  x += fc2(act(fc1(LN2(x))))
//   quick_gelu(z) = z·sigmoid(1.702 z);  attention scores q·kᵀ/√D + causal mask (j > i → float32 min)
//   output = final_LN(x after L − clipSkip layers)
// clipSkip = 0 is the SD conditioning (last_hidden_state); diffusers `clip_skip = 1` (A1111 "CLIP skip 2")
// is final_LN(hidden_states[-2]), i.e. the output of layer L−1 through the final LayerNorm.
import { KindedError } from '../errors';
import { OnnxGraphBuilder } from '../onnx/graph-builder';
import { createOrtSession, ort, type OrtExecutionProvider } from '../onnx/session';
import type { DerivedContext } from '../weights/derived';
import type { WeightMap } from '../weights/weight-map';
import { readTextGraph, storeTextGraph } from './graph-cache';

export interface ClipTextEncoderOptions {
  /** Attention heads. Not inferable from weight shapes; default width / 64 (ViT-L/14: 768 / 64 = 12). */
  heads?: number;
  /** Layers to skip at the end (diffusers `clip_skip`): 0 = last_hidden_state. */
  clipSkip?: number;
  /** `quick_gelu` (OpenAI CLIP, SD1.5) or `gelu` (erf form). */
  hiddenAct?: 'quick_gelu' | 'gelu';
  layerNormEps?: number;
  /** Execution providers to try in order; default WebGPU then wasm in a browser, wasm in Node. */
  executionProviders?: OrtExecutionProvider[];
  /** Where the built graph is kept for the next load with the same inputs (src/text/graph-cache.ts). */
  derived?: DerivedContext;
}

export interface ClipTextEncoder {
  /** Which ORT execution provider the session runs on. */
  readonly ep: OrtExecutionProvider;
  readonly width: number;
  readonly seqLen: number;
  readonly layers: number;
  /** ids: `batch × seqLen` token ids (row-major). Returns `[batch, seqLen, width]` float32 on the CPU. */
  encode(ids: Int32Array, batch?: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

const P = 'text_model.';

/** Text-encoder weights or options that do not make a CLIP text model (a missing or misshapen weight, heads). */
export class ClipTextEncoderError extends KindedError {
  constructor(message: string) {
    super('model-mismatch', message);
  }
}

function shapeOf(weights: WeightMap, name: string, rank: number): number[] {
  if (!weights.has(name)) throw new ClipTextEncoderError(`CLIP text encoder: weight '${name}' is missing`);
  const s = weights.shape(name);
  if (s.length !== rank) throw new ClipTextEncoderError(`CLIP text encoder: weight '${name}' has shape [${s}], expected rank ${rank}`);
  return [...s];
}

async function readChecked(weights: WeightMap, name: string, shape: number[]): Promise<Float32Array> {
  const got = shapeOf(weights, name, shape.length);
  if (got.some((d, i) => d !== shape[i])) {
    throw new ClipTextEncoderError(`CLIP text encoder: weight '${name}' has shape [${got}], expected [${shape}]`);
  }
  return weights.read(name);
}

/** PyTorch Linear weight (out, in) → (in, out) for `x · W` (MatMul), optionally scaled. */
function transposed(w: Float32Array, rows: number, cols: number, scale = 1): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c] * scale;
  return t;
}

/** Number of encoder layers, found by probing `text_model.encoder.layers.N.` (the map has no key listing). */
export function countClipLayers(weights: WeightMap): number {
  let n = 0;
  while (weights.has(`${P}encoder.layers.${n}.self_attn.q_proj.weight`)) n++;
  if (n === 0) throw new ClipTextEncoderError(`CLIP text encoder: no '${P}encoder.layers.0.self_attn.q_proj.weight' found — not a CLIP text model under canonical names`);
  return n;
}

/** Builds the ONNX graph: input `input_ids` int32 [batch, S], output `hidden` float32 [batch, S, W]. */
export async function buildClipTextGraph(weights: WeightMap, opts: ClipTextEncoderOptions = {}): Promise<{
  bytes: Uint8Array; width: number; seqLen: number; layers: number;
}> {
  const [vocab, width] = shapeOf(weights, `${P}embeddings.token_embedding.weight`, 2);
  const [seqLen, posWidth] = shapeOf(weights, `${P}embeddings.position_embedding.weight`, 2);
  if (posWidth !== width) throw new ClipTextEncoderError(`CLIP text encoder: position embedding width ${posWidth} ≠ token embedding width ${width}`);
  const heads = opts.heads ?? width / 64;
  if (!Number.isInteger(heads) || heads < 1 || width % heads !== 0) {
    throw new ClipTextEncoderError(`CLIP text encoder: width ${width} is not divisible into ${opts.heads ?? 'width/64'} heads; pass options.heads`);
  }
  const headDim = width / heads;
  const totalLayers = countClipLayers(weights);
  const clipSkip = opts.clipSkip ?? 0;
  if (!Number.isInteger(clipSkip) || clipSkip < 0 || clipSkip >= totalLayers) {
    throw new Error(`CLIP text encoder: clipSkip ${clipSkip} must be an integer in [0, ${totalLayers - 1}]`);
  }
  const layers = totalLayers - clipSkip;
  const eps = opts.layerNormEps ?? 1e-5;
  const act = opts.hiddenAct ?? 'quick_gelu';

  const g = new OnnxGraphBuilder('clip_text_model');
  const ids = g.input('input_ids', 'int32', ['batch', seqLen]);

  const tokEmb = g.initializer(await readChecked(weights, `${P}embeddings.token_embedding.weight`, [vocab, width]), [vocab, width]);
  const posEmb = g.initializer(await readChecked(weights, `${P}embeddings.position_embedding.weight`, [seqLen, width]), [seqLen, width]);
  let x = g.node('Add', [g.node('Gather', [tokEmb, ids], { axis: 0 }), posEmb]);

  // Causal mask [S, S]: 0 on and below the diagonal, float32 min above (as transformers adds finfo.min).
  const mask = new Float32Array(seqLen * seqLen);
  for (let i = 0; i < seqLen; i++) for (let j = i + 1; j < seqLen; j++) mask[i * seqLen + j] = -3.4028234663852886e38;
  const maskName = g.initializer(mask, [seqLen, seqLen], 'causal_mask');
  const splitHeads = g.int64([0, 0, heads, headDim]);
  const mergeHeads = g.int64([0, 0, width]);

  const layerNorm = async (input: string, prefix: string) => {
    const w = g.initializer(await readChecked(weights, `${prefix}.weight`, [width]), [width]);
    const b = g.initializer(await readChecked(weights, `${prefix}.bias`, [width]), [width]);
    return g.node('LayerNormalization', [input, w, b], { axis: -1, epsilon: { float: eps } });
  };
  const linear = async (input: string, prefix: string, inDim: number, outDim: number, scale = 1) => {
    const w = await readChecked(weights, `${prefix}.weight`, [outDim, inDim]);
    const b = await readChecked(weights, `${prefix}.bias`, [outDim]);
    const wT = g.initializer(transposed(w, outDim, inDim, scale), [inDim, outDim]);
    const bias = g.initializer(scale === 1 ? b : b.map((v) => v * scale), [outDim]);
    return g.node('Add', [g.node('MatMul', [input, wT]), bias]);
  };

  for (let l = 0; l < layers; l++) {
    const lp = `${P}encoder.layers.${l}`;
    const h = await layerNorm(x, `${lp}.layer_norm1`);
    // The 1/√D score scale is folded into q_proj (weights and bias).
    const q = await linear(h, `${lp}.self_attn.q_proj`, width, width, 1 / Math.sqrt(headDim));
    const k = await linear(h, `${lp}.self_attn.k_proj`, width, width);
    const v = await linear(h, `${lp}.self_attn.v_proj`, width, width);
    const qh = g.node('Transpose', [g.node('Reshape', [q, splitHeads])], { perm: [0, 2, 1, 3] }); // [B,H,S,D]
    const khT = g.node('Transpose', [g.node('Reshape', [k, splitHeads])], { perm: [0, 2, 3, 1] }); // [B,H,D,S]
    const vh = g.node('Transpose', [g.node('Reshape', [v, splitHeads])], { perm: [0, 2, 1, 3] }); // [B,H,S,D]
    const scores = g.node('Add', [g.node('MatMul', [qh, khT]), maskName]); // [B,H,S,S]
    const probs = g.node('Softmax', [scores], { axis: -1 });
    const ctx = g.node('Transpose', [g.node('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] }); // [B,S,H,D]
    const attn = await linear(g.node('Reshape', [ctx, mergeHeads]), `${lp}.self_attn.out_proj`, width, width);
    x = g.node('Add', [x, attn]);

    const h2 = await layerNorm(x, `${lp}.layer_norm2`);
    const [inner] = shapeOf(weights, `${lp}.mlp.fc1.weight`, 2);
    const z = await linear(h2, `${lp}.mlp.fc1`, width, inner);
    let a: string;
    if (act === 'quick_gelu') {
      a = g.node('Mul', [z, g.node('Sigmoid', [g.node('Mul', [z, g.float32([1.702], [])])])]);
    } else {
      // gelu(z) = 0.5·z·(1 + erf(z/√2))
      const e = g.node('Erf', [g.node('Mul', [z, g.float32([Math.SQRT1_2], [])])]);
      a = g.node('Mul', [g.node('Mul', [z, g.float32([0.5], [])]), g.node('Add', [e, g.float32([1], [])])]);
    }
    x = g.node('Add', [x, await linear(a, `${lp}.mlp.fc2`, inner, width)]);
  }
  const out = await layerNorm(x, `${P}final_layer_norm`);
  g.output(out, 'hidden', 'float32', ['batch', seqLen, width]);
  return { bytes: g.toBytes(), width, seqLen, layers };
}

/** The options that shape the graph (the key of a stored graph). */
const graphOptionsOf = (o: ClipTextEncoderOptions) => ({ heads: o.heads ?? null, clipSkip: o.clipSkip ?? 0, hiddenAct: o.hiddenAct ?? 'quick_gelu', layerNormEps: o.layerNormEps ?? 1e-5 });

/**
 * The graph's bytes: read back from `opts.derived` when an earlier load stored it for the same inputs and options
 * (`cached`), else built from `weights` (and stored there).
 */
export async function clipTextGraph(weights: WeightMap, opts: ClipTextEncoderOptions = {}): Promise<{ bytes: Uint8Array; width: number; seqLen: number; layers: number; cached: boolean }> {
  if (opts.derived) {
    const bytes = await readTextGraph(opts.derived, graphOptionsOf(opts));
    if (bytes) {
      // The sizes the builder would report, from the weights' shapes (no weight is read).
      const [, width] = shapeOf(weights, `${P}embeddings.token_embedding.weight`, 2);
      const [seqLen] = shapeOf(weights, `${P}embeddings.position_embedding.weight`, 2);
      return { bytes, width, seqLen, layers: countClipLayers(weights) - (opts.clipSkip ?? 0), cached: true };
    }
  }
  const built = await buildClipTextGraph(weights, opts);
  if (opts.derived) await storeTextGraph(opts.derived, graphOptionsOf(opts), built.bytes);
  return { ...built, cached: false };
}

/** Builds the graph from `weights` (or reads the stored one; or takes `graph`, made already) and opens an ORT session on it. */
export async function createClipTextEncoder(
  weights: WeightMap, opts: ClipTextEncoderOptions = {}, graph?: { bytes: Uint8Array; width: number; seqLen: number; layers: number },
): Promise<ClipTextEncoder> {
  const { bytes, width, seqLen, layers } = graph ?? await clipTextGraph(weights, opts);
  const { session, ep } = await createOrtSession(bytes, opts.executionProviders);
  return {
    ep, width, seqLen, layers,
    async encode(ids, batch = ids.length / seqLen) {
      if (!Number.isInteger(batch) || batch < 1 || ids.length !== batch * seqLen) {
        throw new Error(`CLIP text encoder: ${ids.length} token ids are not ${batch} × ${seqLen}`);
      }
      const feeds = { input_ids: new ort.Tensor('int32', ids, [batch, seqLen]) };
      const result = await session.run(feeds);
      const hidden = result.hidden;
      try {
        const data = await hidden.getData();
        if (!(data instanceof Float32Array)) throw new Error(`CLIP text encoder: output is ${hidden.type}, expected float32`);
        return new Float32Array(data);
      } finally {
        hidden.dispose();
      }
    },
    async dispose() {
      await session.release();
    },
  };
}
