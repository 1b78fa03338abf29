// onnxruntime-web running the motion module's temporal attention (an ONNX graph built by
// src/onnx/temporal-attention-graph.ts), for comparison with our fused WGSL kernel in attention.ts.
// The EP is WebGPU in a browser (`npm run bench -- --browser`), wasm in Node; the case name says which ran.
// Timed: one `session.run` (wall time; the engine's GPU timestamps do not see ORT's device). On WebGPU the
// input lives in a GPU buffer on ORT's own device and the output stays there, so no upload/download is timed.
import type { CaseFactory } from '../harness';
import { ortCase } from '../ort-case';
import { noise } from '../noise';
import { buildTemporalAttentionCoreGraph, buildTemporalAttentionGraph } from '../../src/onnx/temporal-attention-graph';

export const cases: CaseFactory = async (_e, { full }) => {
  // The motion module's attention at the size the issue measures (same as attention.ts's temporal case):
  // CFG batch 2, 16 frames, 16×16 latent positions, C = 320, 8 heads.
  const shape = { batch: 2, frames: 16, positions: 16 * 16, channels: 320, heads: 8 };
  const { batch: B, frames: F, positions: P, channels: C, heads: H } = shape;
  const N = B * F * P;
  const sc = 1 / Math.sqrt(C);
  const dims = `B=${B} F=${F} P=16×16 C=${C} heads=${H}`;
  const attnFlops = 4 * B * P * F * F * C; // QKᵀ and PV
  // The same work as our fused temporalAttention(e, qkv [B·F, P, 3C]) in attention.ts.
  const core = ortCase({ name: 'ORT-web temporal attention core', model: buildTemporalAttentionCoreGraph(shape),
    inputs: [{ name: 'qkv', data: noise(N * 3 * C, 16), dims: [B * F, P, 3 * C] }], shape: `${dims}; qkv → Split, reshape/transpose, softmax(QKᵀ/√D)·V, back`, flops: attnFlops });
  // The whole block (Q/K/V and output projections with random weights around the core): 6.7 GFLOP, minutes
  // per run on a software WebGPU adapter, so in the browser only with --full.
  if (!full && core.name.includes('webgpu')) return [core];
  const block = buildTemporalAttentionGraph(shape, {
    wq: noise(C * C, 11, sc), wk: noise(C * C, 12, sc), wv: noise(C * C, 13, sc), wo: noise(C * C, 14, sc), bo: noise(C, 15, 0.1),
  });
  return [core, ortCase({ name: 'ORT-web temporal attention block', model: block, inputs: [{ name: 'x', data: noise(N * C, 17), dims: [B * F, P, C] }],
    shape: `${dims}; x → MatMul Q/K/V, core, out-proj`, flops: 8 * N * C * C + attnFlops })];
};
