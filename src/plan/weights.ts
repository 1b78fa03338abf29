// Bytes of model weights on the GPU per storage precision, from names and shapes only.
//
//   f32 / f16   numel · 4 / 2
//   int8        per output channel n: ⌈K/4⌉ u32 words of values + one f32 scale (symmetric, per channel)
//   int4        per output channel n: ⌈K/8⌉ u32 words of values + ⌈⌈K/16⌉/2⌉ words of f16 scale pairs (groups of
//               QUANT_GROUP = 16 along K)
// (int8/int4: `quantizedBytes` of src/weights/quantize.ts, the packing's one home, with its reasons.)
// where N = shape[0] and K = the product of the rest (a linear's in-features, a conv's Cin·kh·kw). Quantized: every
// linear and conv weight (2-D or 4-D `*.weight`) of the UNet and motion modules; norms, biases and 1-D parameters
// stay in the activation dtype.
import type { DType } from '../gpu/tensor';
import { quantizedBytes } from '../weights/quantize';
import { hostF32, weightMap, type WeightMap } from '../weights/weight-map';

export type WeightPrecision = 'f32' | 'f16' | 'int8' | 'int4';

/** Names and shapes of a model's tensors (a safetensors header, an oracle manifest, a loaded WeightMap). */
export interface ShapeMap {
  has(name: string): boolean;
  shape(name: string): readonly number[];
  names(): string[];
}

/** Whether a tensor is a GEMM weight (linear [out, in] or conv [Cout, Cin, kh, kw]) that weight-only quantization stores packed. */
export const isGemmWeight = (name: string, shape: readonly number[]): boolean =>
  name.endsWith('.weight') && (shape.length === 2 || shape.length === 4) && !name.endsWith('pos_embed.pe');

/** Bytes of one tensor stored in `precision` (GEMM weights) or `floatDtype` (everything else). */
export function tensorBytes(name: string, shape: readonly number[], precision: WeightPrecision, floatDtype: DType, quantizable = isGemmWeight): number {
  const numel = shape.reduce((a, b) => a * b, 1);
  const floatBytes = numel * (floatDtype === 'f16' ? 2 : 4);
  if (!quantizable(name, shape)) return floatBytes;
  const n = shape[0];
  const k = numel / n;
  switch (precision) {
    case 'f32': return numel * 4;
    case 'f16': return numel * 2;
    case 'int8':
    case 'int4': return quantizedBytes(precision, n, k);
  }
}

/** Bytes of every tensor of a model (positional-encoding buffers excepted: they are computed, never loaded). */
export function weightBytes(map: ShapeMap, precision: WeightPrecision, floatDtype: DType, quantizable = isGemmWeight): number {
  let sum = 0;
  for (const name of map.names()) if (!name.endsWith('pos_embed.pe')) sum += tensorBytes(name, map.shape(name), precision, floatDtype, quantizable);
  return sum;
}

/** A WeightMap over shapes only whose values are zeros (one shared array per length): what the planner loads. */
export function zeroWeights(map: ShapeMap): WeightMap {
  const zeros = new Map<number, Float32Array>();
  return weightMap({
    has: (n) => map.has(n),
    shape: (n) => map.shape(n),
    names: () => map.names(),
    get: async (n) => {
      const len = map.shape(n).reduce((a, b) => a * b, 1);
      let z = zeros.get(len);
      if (!z) { z = new Float32Array(len); zeros.set(len, z); }
      return hostF32(z, map.shape(n));
    },
  });
}
