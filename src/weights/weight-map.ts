// Lazy weight access under canonical names: nothing is read until a model builder asks for one tensor.

import { WeightFileError } from './errors';
import { checkFinite } from './finite';
import type { TensorSource } from './layouts/map';

export interface WeightMap {
  has(name: string): boolean;
  /** Canonical shape (after reshape fix-ups). */
  shape(name: string): number[];
  /** The tensor as f32 values (decoded from F16/BF16/F64; LoRA merges applied). A fresh array each call. */
  read(name: string): Promise<Float32Array>;
  /** All canonical names. */
  names(): string[];
}

export function tableWeightMap(table: ReadonlyMap<string, TensorSource>, label = 'weights'): WeightMap {
  const get = (name: string): TensorSource => {
    const t = table.get(name);
    if (!t) throw new WeightFileError('missing-keys', label, `no weight named "${name}"`);
    return t;
  };
  return {
    has: (name) => table.has(name),
    shape: (name) => [...get(name).shape],
    names: () => [...table.keys()],
    async read(name) {
      const t = get(name);
      const values = await t.file.read(t.key);
      checkFinite(values, 'f32', t.file.name, t.key);
      return values;
    },
  };
}
