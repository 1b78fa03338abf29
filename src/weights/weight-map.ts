// The one weight-access interface of the project: lazy tensors under canonical names, read one at a time in
// the precision they are stored in. Everything that consumes weights (the UNet and motion modules, the VAE, the
// CLIP graph builder, LoRA merging, the conformance harness) takes a `WeightMap`; nothing defines its own.
//
// Precision on the way in: F32 stays f32; F16 stays f16 (the stored bit patterns, no decode); BF16 becomes f16
// (bf16's 7-bit mantissa fits f16's 10 bits exactly; only magnitudes outside f16's range, > 65504 or below
// 6.1e-5, round); F64 becomes f32. A LoRA-merged tensor is f32 (merged in f64, rounded once). So a 2 GB f16
// checkpoint never becomes a 4 GB f32 copy: each tensor is read, uploaded (converted to the GPU dtype on its
// own) and dropped before the next.

import { f32ToF16Bits } from '../gpu/half';
import { f16BitsToF32Array } from './dtype';
import { WeightFileError } from './errors';
import { checkFinite } from './finite';
import type { TensorSource } from './layouts/map';
import type { SafetensorsFile } from './safetensors';

/** Host precisions a weight can arrive in. */
export type HostDtype = 'f32' | 'f16';

/** One tensor on the CPU in its stored precision: f32 values, or IEEE binary16 bit patterns (row-major). */
export interface HostTensor {
  readonly dtype: HostDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint16Array;
}

export interface WeightMap {
  has(name: string): boolean;
  /** Canonical shape (after reshape fix-ups). */
  shape(name: string): readonly number[];
  /** All canonical names. */
  names(): string[];
  /** The tensor in its stored precision (see the file comment). A fresh array each call. */
  get(name: string): Promise<HostTensor>;
  /** The tensor as f32 values (CPU consumers: LoRA merging, graph builders). A fresh array each call. */
  read(name: string): Promise<Float32Array>;
}

/** f32 values of a host tensor (the same array when it is f32 already). */
export function hostToF32(t: HostTensor): Float32Array {
  return t.dtype === 'f32' ? (t.data as Float32Array) : f16BitsToF32Array(t.data as Uint16Array);
}

export function hostF32(data: Float32Array, shape: readonly number[]): HostTensor {
  return { dtype: 'f32', shape: [...shape], data };
}

/**
 * A WeightMap from its essential parts: `get` (stored precision) and the names/shapes; `read` derives from `get`.
 * Every map in the project is built with this (or is a spread of one), so the two reads can never disagree.
 */
export function weightMap(parts: {
  has(name: string): boolean;
  shape(name: string): readonly number[];
  names(): string[];
  get(name: string): Promise<HostTensor>;
}): WeightMap {
  return {
    has: parts.has,
    shape: parts.shape,
    names: parts.names,
    get: async (name) => parts.get(name), // async: a missing name rejects instead of throwing synchronously
    read: async (name) => hostToF32(await parts.get(name)),
  };
}

/** In-memory weights (tests, random full-size models): f32 arrays or host tensors by name. */
export function memoryWeightMap(entries: ReadonlyMap<string, HostTensor>, label = 'weights'): WeightMap {
  const need = (name: string): HostTensor => {
    const t = entries.get(name);
    if (!t) throw new WeightFileError('missing-keys', label, `no weight named "${name}"`);
    return t;
  };
  return weightMap({
    has: (n) => entries.has(n),
    shape: (n) => [...need(n).shape],
    names: () => [...entries.keys()],
    get: async (n) => {
      const t = need(n);
      return { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() };
    },
  });
}

/** One stored tensor of a safetensors file in its stored precision (the bytes read once, then viewed). */
export async function readStored(file: SafetensorsFile, key: string, shape: readonly number[] = file.tensors.get(key)?.shape ?? []): Promise<HostTensor> {
  const info = file.tensors.get(key);
  if (!info) throw new WeightFileError('missing-keys', file.name, `no tensor named "${key}"`);
  switch (info.dtype) {
    case 'F16': {
      const raw = await file.readRaw(key);
      const aligned = raw.byteOffset % 2 === 0 ? raw : raw.slice();
      return { dtype: 'f16', shape: [...shape], data: new Uint16Array(aligned.buffer as ArrayBuffer, aligned.byteOffset, info.numel) };
    }
    case 'BF16': {
      const raw = await file.readRaw(key);
      const out = new Uint16Array(info.numel);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      for (let i = 0; i < out.length; i++) {
        u[0] = dv.getUint16(2 * i, true) << 16; // bf16 is the top half of an f32
        out[i] = f32ToF16Bits(f[0]);
      }
      return { dtype: 'f16', shape: [...shape], data: out };
    }
    default:
      // F32 (no conversion) and F64 (→ f32); non-float dtypes are refused by `read`.
      return { dtype: 'f32', shape: [...shape], data: await file.read(key) };
  }
}

export function tableWeightMap(table: ReadonlyMap<string, TensorSource>, label = 'weights'): WeightMap {
  const get = (name: string): TensorSource => {
    const t = table.get(name);
    if (!t) throw new WeightFileError('missing-keys', label, `no weight named "${name}"`);
    return t;
  };
  return weightMap({
    has: (name) => table.has(name),
    shape: (name) => [...get(name).shape],
    names: () => [...table.keys()],
    get: (name) => {
      const t = get(name);
      return readStored(t.file, t.key, t.shape).then((h) => {
        checkFinite(h.data, h.dtype, t.file.name, t.key);
        return h;
      });
    },
  });
}

/** Several maps as one (the first map holding a name wins; names of different components are disjoint). */
export function unionWeightMaps(maps: readonly WeightMap[], label = 'the loaded files'): WeightMap {
  const owner = (n: string) => maps.find((m) => m.has(n));
  const need = (n: string) => {
    const m = owner(n);
    if (!m) throw new WeightFileError('missing-keys', label, `no weight named "${n}"`);
    return m;
  };
  return weightMap({
    has: (n) => owner(n) !== undefined,
    shape: (n) => need(n).shape(n),
    names: () => maps.flatMap((m) => m.names()),
    get: (n) => need(n).get(n),
  });
}

/** A file's own keys as a WeightMap, without layout mapping (files already under canonical names; tests). */
export function fileWeightMap(file: SafetensorsFile): WeightMap {
  const need = (n: string) => {
    const t = file.tensors.get(n);
    if (!t) throw new WeightFileError('missing-keys', file.name, `no tensor named "${n}"`);
    return t;
  };
  return weightMap({
    has: (n) => file.tensors.has(n),
    shape: (n) => [...need(n).shape],
    names: () => [...file.tensors.keys()],
    get: (n) => readStored(file, n),
  });
}
