// What this browser's WebGPU can do, and whether chosen settings are likely to fit.
// `probeCapabilities` runs in the worker (it asks for an adapter, never a device);
// `assessSettings` is pure and runs anywhere (the UI calls it on every settings change).

import type { Capabilities, GenerateSettings } from './protocol';

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

/** The size of a model, enough to estimate its memory: parameter count and UNet channel widths. */
export interface ModelFootprint {
  /** All parameters that live on the GPU (UNet + motion module + VAE decoder + text encoder). */
  params: number;
  /** UNet channels at the full-resolution level (320 for SD1.5). */
  baseChannels: number;
}

/** SD1.5 UNet 859.5 M + AnimateDiff v2 motion module 453.8 M + VAE decoder 49.5 M + CLIP ViT-L/14 text 123.1 M. */
export const SD15_FOOTPRINT: ModelFootprint = { params: 859.5e6 + 453.8e6 + 49.5e6 + 123.1e6, baseChannels: 320 };

export interface MemoryEstimate {
  weightBytes: number;
  /** Peak activations of one UNet evaluation (both CFG halves) plus one VAE frame decode. */
  activationBytes: number;
  /** The largest single activation buffer: the GEGLU feed-forward input at the first level (8 × base channels). */
  largestBufferBytes: number;
}

/**
 * A rough estimate (within about 2×) of GPU memory for one generation; it is used only to warn, never to refuse.
 * UNet at the first level holds about a dozen live tensors of rows × C (three skip connections, the residual,
 * norm output, attention Q/K/V/out); the feed-forward input is rows × 8C (GEGLU doubles 4C);
 * rows = frames × (CFG ? 2 : 1) × (H/8) × (W/8). The VAE decodes one frame at a time: about four H×W×128 tensors.
 */
export function estimateMemory(s: Pick<GenerateSettings, 'frames' | 'width' | 'height' | 'guidance'>, f16: boolean, model: ModelFootprint = SD15_FOOTPRINT): MemoryEstimate {
  const bytes = f16 ? 2 : 4;
  const batch = s.frames * (s.guidance > 1 ? 2 : 1);
  const rows = batch * (s.width / 8) * (s.height / 8);
  const largestBufferBytes = rows * 8 * model.baseChannels * bytes;
  const unet = rows * model.baseChannels * bytes * 12 + largestBufferBytes;
  const vae = s.width * s.height * Math.max(128, model.baseChannels / 2.5) * bytes * 4;
  return { weightBytes: model.params * bytes, activationBytes: unet + vae, largestBufferBytes };
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
export function assessSettings(caps: Capabilities, s: GenerateSettings, model: ModelFootprint = SD15_FOOTPRINT): Advice[] {
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
  const est = estimateMemory(s, a.f16, model);
  if (est.largestBufferBytes > a.maxBufferSize) {
    out.push({
      level: 'warning',
      message: `${s.width}×${s.height} with ${s.frames} frames needs GPU buffers of about ${formatBytes(est.largestBufferBytes)}, but this GPU allows at most ${formatBytes(a.maxBufferSize)} per buffer.`,
      suggestion: 'Choose a smaller size or fewer frames.',
    });
  }
  const total = est.weightBytes + est.activationBytes;
  if (caps.deviceMemoryGiB && total > caps.deviceMemoryGiB * GiB * 0.6) {
    out.push({
      level: 'warning',
      message: `These settings need roughly ${formatBytes(total)} of GPU memory (${formatBytes(est.weightBytes)} weights + ${formatBytes(est.activationBytes)} working memory); this device reports ${caps.deviceMemoryGiB} GB of memory in all.`,
      suggestion: 'Choose a smaller size (256×256 or 384×384) or fewer frames' + (a.f16 ? '.' : ', or use a GPU with shader-f16.'),
    });
  }
  return out;
}
