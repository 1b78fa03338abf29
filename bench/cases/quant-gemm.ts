// Weight-only int8 / int4 GEMMs (fused dequantization in the GEMM core's B loader, shaders/matmul_b_q8/q4.wgsl)
// against the float GEMM of the same shape in the same run: each quantized case's `plain` is the engine-dtype
// (f16 where the adapter has shader-f16) GEMM, and an f32 case (f32 activations and weights on the same engine)
// is listed against it too. Linear layers and a 3×3 conv (implicit GEMM), SD1.5 shapes with --full.
import type { BenchCase, CaseFactory } from '../harness';
import type { Engine } from '../../src/gpu/engine';
import type { DType } from '../../src/gpu/tensor';
import { conv2d } from '../../src/ops/conv2d';
import { linear } from '../../src/ops/linear';
import { prepareConv2d, prepareLinear, releaseWeight, type WeightFormat } from '../../src/ops/weights';
import { quantizedBytes } from '../../src/weights/quantize';

function data(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

const SCALED = ' (scaled down: software adapter)';
type Variant = { format: WeightFormat; dtype: DType };

/** One GEMM (linear [M, K] × [N, K]ᵀ, or a 3×3 conv as M = H·W, K = 9·Cin) in a weight format and activation dtype. */
function gemm(e: Engine, kind: 'linear' | 'conv', dims: { M: number; N: number; K: number; H?: number; W?: number; Cin?: number }, v: Variant) {
  const { N, K } = dims;
  // An f32 case on an f16 engine: upload f32 weights by hand (prepare* uses the engine dtype).
  const bias = data(N, 3);
  if (kind === 'linear') {
    const x = e.upload(data(dims.M * K, 1), [dims.M, K], v.dtype);
    const wv = data(N * K, 2, 1 / Math.sqrt(K));
    const w = v.dtype === e.dtype ? prepareLinear(e, wv, [N, K], bias, undefined, v.format)
      : { weight: e.upload(wv, [N, K], v.dtype), bias: e.upload(bias, [N], v.dtype) };
    return { run: () => { linear(e, x, w).release(); }, dispose: () => { x.release(); releaseWeight(w); } };
  }
  const { H = 0, W = 0, Cin = 0 } = dims;
  const x = e.upload(data(H * W * Cin, 4), [1, H, W, Cin], v.dtype);
  const wv = data(N * Cin * 9, 5, 1 / Math.sqrt(K));
  if (v.dtype !== e.dtype) throw new RangeError('conv f32-on-f16 case not built');
  const w = prepareConv2d(e, wv, [N, Cin, 3, 3], bias, undefined, v.format);
  return { run: () => { conv2d(e, x, w, { stride: 1, padding: 1 }).release(); }, dispose: () => { x.release(); releaseWeight(w); } };
}

function variantCases(e: Engine, label: string, kind: 'linear' | 'conv', dims: { M: number; N: number; K: number; H?: number; W?: number; Cin?: number }, full: boolean): BenchCase[] {
  const shape = `M=${dims.M} N=${dims.N} K=${dims.K}${kind === 'conv' ? ` (${dims.H}x${dims.W}x${dims.Cin} 3x3)` : ''}${full ? '' : SCALED}`;
  const base = gemm(e, kind, dims, { format: 'float', dtype: e.dtype });
  const out: BenchCase[] = [];
  const variants: { name: string; v: Variant; weightBytes: number }[] = [
    { name: 'int8 weights (fused dequant)', v: { format: 'int8', dtype: e.dtype }, weightBytes: quantizedBytes('int8', dims.N, dims.K) },
    { name: 'int4 weights (fused dequant)', v: { format: 'int4', dtype: e.dtype }, weightBytes: quantizedBytes('int4', dims.N, dims.K) },
  ];
  if (e.dtype === 'f16' && kind === 'linear') variants.push({ name: 'f32 weights + activations', v: { format: 'float', dtype: 'f32' }, weightBytes: dims.N * dims.K * 4 });
  let live = variants.length; // the float baseline is shared: released with the last case that uses it
  for (const { name, v, weightBytes } of variants) {
    const g = gemm(e, kind, dims, v);
    out.push({
      name: `${label}: ${name}`, shape: `${shape}; weights ${(weightBytes / 2 ** 20).toFixed(2)} MiB`, flops: 2 * dims.M * dims.N * dims.K,
      run: g.run,
      plain: { name: `${e.dtype} GEMM`, run: base.run },
      dispose: () => { g.dispose(); if (--live === 0) base.dispose(); },
    });
  }
  return out;
}

export const cases: CaseFactory = (e, { full }) => full
  ? [
    ...variantCases(e, 'linear (attn proj, level 0)', 'linear', { M: 4096, N: 320, K: 320 }, true),
    ...variantCases(e, 'linear (GEGLU in, level 3)', 'linear', { M: 64, N: 10240, K: 1280 }, true),
    ...variantCases(e, 'conv2d 3x3 (level 3)', 'conv', { M: 64, N: 1280, K: 11520, H: 8, W: 8, Cin: 1280 }, true),
  ]
  : [
    ...variantCases(e, 'linear (attn proj, level 0)', 'linear', { M: 512, N: 320, K: 320 }, false),
    ...variantCases(e, 'linear (GEGLU in, level 3)', 'linear', { M: 16, N: 2560, K: 1280 }, false),
    ...variantCases(e, 'conv2d 3x3 (level 3)', 'conv', { M: 16, N: 320, K: 2880, H: 4, W: 4, Cin: 320 }, false),
  ];
