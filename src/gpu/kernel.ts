import type { DType } from './tensor';

/**
 * A WGSL compute kernel from `shaders/`. Kernels are written once for both precisions: they use
 * the type alias `T` for storage elements (and `vec4<T>` etc.), while reductions and softmax
 * accumulate in f32. The engine prepends `enable f16; alias T = f16;` or `alias T = f32;`.
 * Tunables (workgroup size, fused activation, flags) are WGSL `override` constants set per pipeline.
 */
export interface Kernel {
  readonly name: string;
  readonly code: string;
  /** Entry point; default `main`. */
  readonly entry?: string;
}

export const kernel = (name: string, code: string, entry?: string): Kernel => ({ name, code, entry });

export function wgslPrelude(dtype: DType): string {
  return dtype === 'f16' ? 'enable f16;\nalias T = f16;\n' : 'alias T = f32;\n';
}

/** WGSL override values. Numbers only: Dawn for Node rejects booleans (pass 0/1 for `override X: bool`). */
export type Constants = Record<string, number>;

export const pipelineKey = (k: Kernel, dtype: DType, constants?: Constants): string =>
  `${k.name}:${k.entry ?? 'main'}:${dtype}:${constants ? JSON.stringify(constants, Object.keys(constants).sort()) : ''}`;
