// WebGPU for Node (tests, benchmark, conformance CLI): Dawn through the `webgpu` npm package.
// Never imported by the browser build.
import { Engine, type EngineOptions } from '../gpu/engine';

let gpuInstance: GPU | null = null;

export async function nodeGpu(): Promise<GPU> {
  if (gpuInstance) return gpuInstance;
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  // Keep the reference for the process lifetime: dropping it while devices live crashes Dawn.
  gpuInstance = webgpu.create([]) as unknown as GPU;
  return gpuInstance;
}

export async function createNodeEngine(opts: EngineOptions = {}): Promise<Engine> {
  return Engine.create(await nodeGpu(), opts);
}
