// Creating an onnxruntime-web session on the first execution provider that works, and saying which.
//
// `import 'onnxruntime-web'` resolves to `ort.node.min.mjs` in Node (wasm EP only) and to
// `ort.bundle.min.mjs` in Vite builds (JSEP WebGPU + wasm). ORT creates and owns its own GPUDevice
// (an injected `ort.env.webgpu.device` is ignored in 1.30), so results come back to the CPU here.
import * as ort from 'onnxruntime-web';

export type OrtExecutionProvider = 'webgpu' | 'wasm';

export interface OrtSessionHandle {
  session: ort.InferenceSession;
  /** The execution provider the session was created with. */
  ep: OrtExecutionProvider;
}

/** WebGPU first where the platform has it (a browser or worker with navigator.gpu), wasm otherwise. */
export function defaultExecutionProviders(): OrtExecutionProvider[] {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  const hasWebGpu = typeof navigator !== 'undefined' && 'gpu' in navigator && !!(navigator as Navigator).gpu;
  return !isNode && hasWebGpu ? ['webgpu', 'wasm'] : ['wasm'];
}

/**
 * Tries each provider alone, in order, and returns the first session that could be created. ORT itself
 * would silently fall back inside one `create` call; trying them one by one tells us which EP runs.
 */
export async function createOrtSession(
  model: Uint8Array,
  providers: OrtExecutionProvider[] = defaultExecutionProviders(),
  options: ort.InferenceSession.SessionOptions = {},
): Promise<OrtSessionHandle> {
  if (providers.length === 0) throw new Error('createOrtSession: no execution providers given');
  const failures: string[] = [];
  for (const ep of providers) {
    try {
      const session = await ort.InferenceSession.create(model, {
        graphOptimizationLevel: 'all',
        ...options,
        executionProviders: [ep],
      });
      return { session, ep };
    } catch (err) {
      failures.push(`${ep}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new Error(`onnxruntime-web could not create a session on any of [${providers}]:\n${failures.join('\n')}`);
}

export { ort };
