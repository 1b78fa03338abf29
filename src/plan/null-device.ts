// A GPUDevice that runs nothing: buffers are sizes, dispatches and copies are dropped, reads give zeros. The memory
// planner runs the real model code on an Engine over this device, so the allocation trace it measures is the one a
// real run makes (same ops, same pool, same order) without a second description of the models.

/** The adapter limits a plan is made for (what `requestAdapter().limits` reports; the engine requests them all). */
export interface AdapterLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  minStorageBufferOffsetAlignment?: number;
  minUniformBufferOffsetAlignment?: number;
  maxComputeWorkgroupsPerDimension?: number;
}

class NullBuffer {
  constructor(readonly size: number, readonly usage: number, readonly label: string) {}
  destroy(): void {}
  async mapAsync(): Promise<void> {}
  getMappedRange(): ArrayBuffer {
    return new ArrayBuffer(this.size);
  }
  unmap(): void {}
}

const noop = () => undefined;

/**
 * The WebGPU flag constants the engine names (fixed by the spec), for a planner that runs where WebGPU is absent
 * (Node without the webgpu package, a browser without WebGPU asking what a run would need).
 */
function ensureGpuConstants(): void {
  const g = globalThis as Record<string, unknown>;
  g.GPUBufferUsage ??= { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, INDEX: 16, VERTEX: 32, UNIFORM: 64, STORAGE: 128, INDIRECT: 256, QUERY_RESOLVE: 512 };
  g.GPUMapMode ??= { READ: 1, WRITE: 2 };
}

/** A stand-in GPUDevice with `limits` (unknown limits default to WebGPU's guaranteed minimums or more). */
export function createNullDevice(limits: AdapterLimits): GPUDevice {
  ensureGpuConstants();
  const all = {
    maxComputeWorkgroupsPerDimension: 65535,
    minStorageBufferOffsetAlignment: 256,
    minUniformBufferOffsetAlignment: 256,
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256,
    maxStorageBuffersPerShaderStage: 8,
    ...limits,
  };
  const pass = { setPipeline: noop, setBindGroup: noop, dispatchWorkgroups: noop, end: noop };
  const device = {
    limits: all,
    features: new Set<string>(['shader-f16']),
    lost: new Promise<never>(() => {}),
    queue: { writeBuffer: noop, submit: noop, onSubmittedWorkDone: async () => {} },
    createBuffer: (d: GPUBufferDescriptor) => new NullBuffer(d.size, d.usage, d.label ?? ''),
    createShaderModule: () => ({ getCompilationInfo: async () => ({ messages: [] }) }),
    createComputePipeline: () => ({ getBindGroupLayout: () => ({}) }),
    createBindGroup: () => ({}),
    createQuerySet: () => ({ destroy: noop }),
    createCommandEncoder: () => ({
      beginComputePass: () => pass, copyBufferToBuffer: noop, resolveQuerySet: noop, finish: () => ({}),
    }),
    pushErrorScope: noop,
    popErrorScope: async () => null,
    destroy: noop,
  };
  return device as unknown as GPUDevice;
}
