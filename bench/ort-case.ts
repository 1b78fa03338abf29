// A benchmark case that times one onnxruntime-web `session.run` of a project-built ONNX graph: the external
// baseline for our kernels (bench/cases/ort.ts, motion-module.ts, unet-level.ts). The EP is WebGPU in a browser,
// wasm in Node (the first of `defaultExecutionProviders()`, alone: no silent fallback); the case name says which.
// Timed wall to wall (the engine's GPU timestamps do not see ORT's device). The model is built and the session
// created in the case's untimed `setup`, so only one case's graph is alive at a time. On WebGPU the inputs live
// in GPU buffers on ORT's own device (ORT ignores an injected device) and the output stays there, so no
// upload/download is timed.
import { createOrtSession, defaultExecutionProviders, ort } from '../src/onnx/session';
import type { VersusCase } from './suite';

export interface OrtInput { name: string; data: Float32Array; dims: number[] }

export interface OrtCaseSpec {
  /** Case name; " (<ep> EP)" is appended. */
  name: string;
  /** The model, or a function that builds it (called in `setup`). */
  model: Uint8Array | (() => Promise<Uint8Array>);
  /** The graph's inputs, or a function that makes them (called in `setup`). */
  inputs: OrtInput[] | (() => OrtInput[]);
  shape: string;
  flops?: number;
  /** Timed runs; a function of the EP that will run (one run of a big graph on a software adapter takes minutes). */
  reps?: (ep: string) => number | undefined;
  versus?: string;
  /** Called from `dispose` (e.g. to drop host weights shared with our case). */
  onDispose?: () => void;
}

export function ortCase(s: OrtCaseSpec): VersusCase & { ep: string } {
  const ep = defaultExecutionProviders()[0];
  let session: ort.InferenceSession | null = null;
  let feeds: Record<string, ort.Tensor> = {};
  const buffers: GPUBuffer[] = [];
  return {
    ep,
    name: `${s.name} (${ep} EP)`,
    shape: s.shape,
    flops: s.flops,
    reps: s.reps?.(ep),
    versus: s.versus,
    setup: async () => {
      const model = typeof s.model === 'function' ? await s.model() : s.model;
      ({ session } = await createOrtSession(model, [ep], { preferredOutputLocation: 'gpu-buffer' }));
      const inputs = typeof s.inputs === 'function' ? s.inputs() : s.inputs;
      const device = ep === 'webgpu' ? await ort.env.webgpu.device : null;
      feeds = {};
      for (const { name, data, dims } of inputs) {
        if (device) {
          const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
          device.queue.writeBuffer(buf, 0, data);
          buffers.push(buf);
          feeds[name] = ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims });
        } else {
          feeds[name] = new ort.Tensor('float32', data, dims);
        }
      }
    },
    run: async () => {
      if (!session) throw new Error(`${s.name}: run before setup`);
      const out = await session.run(feeds);
      // With WebGPU, run() resolves once ORT has submitted; wait for ORT's queue so the time is the GPU's.
      if (ep === 'webgpu') await (await ort.env.webgpu.device).queue.onSubmittedWorkDone();
      for (const t of Object.values(out)) t.dispose();
    },
    dispose: () => {
      for (const b of buffers.splice(0)) b.destroy();
      feeds = {};
      if (session) void session.release();
      session = null;
      s.onDispose?.();
    },
  };
}
