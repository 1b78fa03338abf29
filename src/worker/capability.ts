// What this browser's WebGPU can do.
// `probeCapabilities` runs in the worker (it asks for an adapter, never a device);
// `assessSettings` is pure and runs anywhere (the UI calls it on every settings change): advice about the adapter.
// Whether a run fits is the memory planner's answer (src/plan), given by the worker from the models' headers before
// anything is downloaded: a run it refuses fails with its figure against the adapter's limit.

import type { Capabilities } from './protocol';

/** Asks for an adapter and reports its features and limits. Never throws. */
export async function probeCapabilities(gpu: GPU | undefined, deviceMemoryGiB?: number): Promise<Capabilities> {
  if (!gpu) {
    return { webgpu: false, deviceMemoryGiB, problem: 'This browser has no WebGPU (navigator.gpu is missing).' };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { webgpu: false, deviceMemoryGiB, problem: `Asking for a WebGPU adapter failed: ${(e as Error).message}` };
  }
  if (!adapter) {
    return { webgpu: false, deviceMemoryGiB, problem: 'WebGPU is present but no GPU adapter is available (the GPU may be blocklisted or hardware acceleration turned off).' };
  }
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const name = [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' / ') || 'unknown GPU';
  const l = adapter.limits;
  const isFallback = Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return {
    webgpu: true,
    deviceMemoryGiB,
    adapter: {
      name,
      f16: adapter.features.has('shader-f16'),
      isFallback,
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  };
}

export interface Advice {
  level: 'error' | 'warning' | 'info';
  message: string;
  suggestion?: string;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function formatBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GB`;
  if (n >= MiB) return `${Math.round(n / MiB)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} KB`;
}

/** Plain-language advice about running these settings on this browser; empty when all looks fine. */
export function assessSettings(caps: Capabilities): Advice[] {
  const out: Advice[] = [];
  if (!caps.webgpu || !caps.adapter) {
    out.push({
      level: 'error',
      message: caps.problem ?? 'WebGPU is not available.',
      suggestion: 'Use a recent Chrome or Edge (version 113 or later) or Safari 26+, with hardware acceleration turned on. On Linux Chrome, WebGPU may need chrome://flags/#enable-unsafe-webgpu.',
    });
    return out;
  }
  const a = caps.adapter;
  if (a.isFallback) {
    out.push({
      level: 'warning',
      message: `WebGPU runs on a software adapter (${a.name}), not on your GPU: full-size models will be extremely slow.`,
      suggestion: 'Use the tiny test model here, or enable hardware acceleration in the browser settings.',
    });
  }
  if (!a.f16) {
    out.push({
      level: 'info',
      message: 'This GPU has no 16-bit float shaders (shader-f16), so the app computes in 32-bit floats: twice the memory for weights, and slower.',
      suggestion: 'If memory runs short, choose a smaller size or fewer frames.',
    });
  }
  return out;
}
