// onnxruntime-web running the motion module's temporal attention (an ONNX graph built by
// src/onnx/temporal-attention-graph.ts), for comparison with our fused WGSL kernel in attention.ts.
// The EP is WebGPU in a browser (`npm run bench -- --browser`), wasm in Node; the case name says which ran.
// Timed: one `session.run` (wall time; the engine's GPU timestamps do not see ORT's device). On WebGPU the
// input lives in a GPU buffer on ORT's own device and the output stays there, so no upload/download is timed.
import type { BenchCase, CaseFactory } from '../harness';
import { createOrtSession, ort } from '../../src/onnx/session';
import { buildTemporalAttentionCoreGraph, buildTemporalAttentionGraph } from '../../src/onnx/temporal-attention-graph';

function noise(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (u + s / 4294967296 - 1) * 2.45 * scale; // triangular, unit variance × scale
  }
  return out;
}

async function ortCase(name: string, bytes: Uint8Array, inputName: string, data: Float32Array, dims: number[], detail: string, flops: number): Promise<BenchCase> {
  const { session, ep } = await createOrtSession(bytes, undefined, { preferredOutputLocation: 'gpu-buffer' });
  let input: ort.Tensor;
  let gpuBuffer: GPUBuffer | null = null;
  if (ep === 'webgpu') {
    // ORT ignores an injected device: put the input on ORT's own device.
    const device = await ort.env.webgpu.device;
    gpuBuffer = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(gpuBuffer, 0, data);
    input = ort.Tensor.fromGpuBuffer(gpuBuffer, { dataType: 'float32', dims });
  } else {
    input = new ort.Tensor('float32', data, dims);
  }
  return {
    name: `${name} (${ep} EP)`,
    shape: detail,
    flops,
    run: async () => {
      const out = await session.run({ [inputName]: input });
      // With WebGPU, run() resolves once ORT has submitted; wait for ORT's queue so the time is the GPU's.
      if (ep === 'webgpu') await (await ort.env.webgpu.device).queue.onSubmittedWorkDone();
      for (const t of Object.values(out)) t.dispose();
    },
    dispose: () => {
      gpuBuffer?.destroy();
      void session.release();
    },
  };
}

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
  const core = await ortCase('ORT-web temporal attention core', buildTemporalAttentionCoreGraph(shape), 'qkv', noise(N * 3 * C, 16),
    [B * F, P, 3 * C], `${dims}; qkv → Split, reshape/transpose, softmax(QKᵀ/√D)·V, back`, attnFlops);
  // The whole block (Q/K/V and output projections with random weights around the core): 6.7 GFLOP, minutes
  // per run on a software WebGPU adapter, so in the browser only with --full.
  if (!full && core.name.includes('webgpu')) return [core];
  const block = buildTemporalAttentionGraph(shape, {
    wq: noise(C * C, 11, sc), wk: noise(C * C, 12, sc), wv: noise(C * C, 13, sc), wo: noise(C * C, 14, sc), bo: noise(C, 15, 0.1),
  });
  return [core, await ortCase('ORT-web temporal attention block', block, 'x', noise(N * C, 17), [B * F, P, C],
    `${dims}; x → MatMul Q/K/V, core, out-proj`, 8 * N * C * C + attnFlops)];
};
