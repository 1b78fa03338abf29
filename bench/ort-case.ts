// A benchmark case that times one onnxruntime-web `session.run` of a project-built ONNX graph: the external
// baseline for our kernels (bench/cases/ort.ts, bench/cases/motion-module.ts). The EP is WebGPU in a browser,
// wasm in Node; the case name says which ran. Timed wall to wall (the engine's GPU timestamps do not see ORT's
// device). On WebGPU the input lives in a GPU buffer on ORT's own device (ORT ignores an injected device) and
// the output stays there, so no upload/download is timed.
import { createOrtSession, ort } from '../src/onnx/session';
import type { VersusCase } from './suite';

export interface OrtCaseSpec {
  /** Case name; " (<ep> EP)" is appended. */
  name: string;
  model: Uint8Array;
  inputName: string;
  data: Float32Array;
  dims: number[];
  shape: string;
  flops?: number;
  /** Timed runs; a function of the EP that ran (one run of a big graph on a software adapter takes minutes). */
  reps?: (ep: string) => number | undefined;
  versus?: string;
}

export async function ortCase(s: OrtCaseSpec): Promise<VersusCase & { ep: string }> {
  const { session, ep } = await createOrtSession(s.model, undefined, { preferredOutputLocation: 'gpu-buffer' });
  let input: ort.Tensor;
  let gpuBuffer: GPUBuffer | null = null;
  if (ep === 'webgpu') {
    const device = await ort.env.webgpu.device;
    gpuBuffer = device.createBuffer({ size: s.data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(gpuBuffer, 0, s.data);
    input = ort.Tensor.fromGpuBuffer(gpuBuffer, { dataType: 'float32', dims: s.dims });
  } else {
    input = new ort.Tensor('float32', s.data, s.dims);
  }
  return {
    ep,
    name: `${s.name} (${ep} EP)`,
    shape: s.shape,
    flops: s.flops,
    reps: s.reps?.(ep),
    versus: s.versus,
    run: async () => {
      const out = await session.run({ [s.inputName]: input });
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
