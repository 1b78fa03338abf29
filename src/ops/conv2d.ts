// 2D convolution over NHWC activations as an implicit GEMM on the tiled core (shaders/matmul.wgsl +
// the im2col loader in shaders/conv2d*.wgsl): M = N·Ho·Wo output pixels, N = Cout, K = KH·KW·Cin.
// Channels-last makes K contiguous in Cin for both the image and the (Cout, KH, KW, Cin) weight,
// so the gather needs no transpose and a 1×1 stride-1 conv is literally a linear layer.
import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import type { Tensor } from '../gpu/tensor';
import { ACTIVATION_ID, ACTIVATIONS_WGSL, type Activation } from './activation';
import { linear } from './linear';
import { checkBindable, checkBindableShape, checkEpilogue, dispatchGemm, type GemmEpilogue } from './matmul';
import { type Conv2dWeight, floatParts, outFeatures, QuantizedTensor, weightParts, type WeightTensor } from './weights';
import naiveWgsl from '../../shaders/conv2d_naive.wgsl?raw';

export interface Conv2dOptions {
  stride?: 1 | 2;
  /**
   * Zero padding on every side; default (KH - 1) / 2 ("same" for stride 1). `{ top, bottom, x }` pads the rows
   * on each side and the columns on both: a row tile that carries its neighbours' halo rows pads only where it
   * meets the image's edge.
   */
  padding?: number | { top: number; bottom: number; x: number };
  act?: Activation;
  /** [N, Ho, Wo, Cout], added after the activation. */
  residual?: Tensor;
  /** Per-row-group bias before the activation, as in `linear` (rows = N·Ho·Wo output pixels): e.g. a ResNet's
   *  time embedding [b, Cout] with rowsPerEntry = F·Ho·Wo. */
  rowBias?: { table: Tensor; rowsPerEntry: number };
}

interface Geometry { n: number; H: number; W: number; Cin: number; Cout: number; KH: number; KW: number; stride: number; pad: number; padY: number; Ho: number; Wo: number }

function geometry(op: string, x: Tensor, parts: readonly WeightTensor[], opts: Conv2dOptions): Geometry {
  if (x.shape.length !== 4) throw new RangeError(`${op}: input ${x} should be NHWC [N, H, W, Cin]`);
  const [n, H, W, Cin] = x.shape;
  const [, KH, KW, wCin] = parts[0].shape;
  for (const w of parts) {
    if (w.shape.length !== 4 || w.shape[1] !== KH || w.shape[2] !== KW || w.shape[3] !== Cin || wCin !== Cin) {
      throw new RangeError(`${op}: weight ${w} should be [Cout, KH, KW, ${Cin}] for input ${x}`);
    }
    if (!(w instanceof QuantizedTensor) && w.dtype !== x.dtype) throw new TypeError(`${op}: input is ${x.dtype}, weight is ${w.dtype}`);
  }
  const stride = opts.stride ?? 1;
  const padding = opts.padding ?? (KH - 1) / 2;
  const [padY, padBottom, pad] = typeof padding === 'number' ? [padding, padding, padding] : [padding.top, padding.bottom, padding.x];
  if (stride !== 1 && stride !== 2) throw new RangeError(`${op}: stride ${stride} is not supported (1 or 2)`);
  for (const v of [pad, padY, padBottom]) if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: padding must be a non-negative integer, got ${JSON.stringify(padding)}`);
  // The bottom padding only sets Ho: the loader reads zeros wherever a row is outside the input.
  const Ho = Math.floor((H + padY + padBottom - KH) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - KW) / stride) + 1;
  if (Ho < 1 || Wo < 1) throw new RangeError(`${op}: ${KH}x${KW} kernel with padding ${pad} does not fit input ${x}`);
  return { n, H, W, Cin, Cout: parts.reduce((s, t) => s + t.shape[0], 0), KH, KW, stride, pad, padY, Ho, Wo };
}

/** x [N, H, W, Cin] → [N, Ho, Wo, Cout] = act(conv(x, w) + b) + residual. */
export function conv2d(e: Engine, x: Tensor, w: Conv2dWeight, opts: Conv2dOptions = {}): Tensor {
  const parts = weightParts(w);
  const g = geometry('conv2d', x, parts, opts);
  const outShape = [g.n, g.Ho, g.Wo, g.Cout];
  if (g.KH === 1 && g.KW === 1 && g.stride === 1 && g.pad === 0 && g.padY === 0 && g.Ho === g.H) {
    // A 1×1 conv over NHWC is a linear layer over the last (channel) dim: [N, H, W, Cin] → [N, H, W, Cout].
    return linear(e, x, { weight: parts.map((p) => p.reshape([p.shape[0], g.Cin])), bias: w.bias }, { act: opts.act, residual: opts.residual, rowBias: opts.rowBias });
  }
  const ep: GemmEpilogue = { act: opts.act, bias: w.bias, residual: opts.residual, rowBias: opts.rowBias };
  checkEpilogue('conv2d', ep, outShape, g.Cout);
  checkBindable(e, 'conv2d', 'input', x);
  checkBindableShape(e, 'conv2d', 'output', outShape, x.dtype);
  const out = e.empty(outShape, x.dtype);
  const K = g.KH * g.KW * g.Cin;
  let col = 0;
  for (const part of parts) {
    dispatchGemm(e, {
      op: 'conv2d', aKind: 'conv', a: x, b: part, out, transB: true, batch: 1, M: g.n * g.Ho * g.Wo, N: part.shape[0], K,
      strideA: 0, strideB: 0, strideC: 0, ldc: g.Cout, colOffset: col, epilogue: ep,
      conv: { H: g.H, W: g.W, Cin: g.Cin, KW: g.KW, Ho: g.Ho, Wo: g.Wo, stride: g.stride, pad: g.pad, padY: g.padY },
    });
    col += part.shape[0];
  }
  return out;
}

const NAIVE = kernel('conv2d_naive', ACTIVATIONS_WGSL + '\n' + naiveWgsl);

/** The plain direct convolution, one thread per output (benchmark baseline): act(conv(x, w) + b), unsplit weights only. */
export function conv2dNaive(e: Engine, x: Tensor, w: Conv2dWeight, opts: Omit<Conv2dOptions, 'residual'> = {}): Tensor {
  const parts = floatParts(w, 'conv2dNaive');
  if (parts.length !== 1) throw new RangeError('conv2dNaive: split weights are not supported');
  const g = geometry('conv2dNaive', x, parts, opts);
  if (typeof opts.padding === 'object') throw new RangeError('conv2dNaive: per-side padding is not supported');
  const outShape = [g.n, g.Ho, g.Wo, g.Cout];
  checkEpilogue('conv2dNaive', { bias: w.bias }, outShape, g.Cout);
  checkBindable(e, 'conv2dNaive', 'input', x);
  checkBindableShape(e, 'conv2dNaive', 'output', outShape, x.dtype);
  const out = e.empty(outShape, x.dtype);
  e.dispatch({
    kernel: NAIVE,
    dtype: x.dtype,
    bindings: [
      new Params().u32(out.size).u32(g.H).u32(g.W).u32(g.Cin).u32(g.Ho).u32(g.Wo).u32(g.Cout).u32(g.KH)
        .u32(g.KW).u32(g.stride).i32(g.pad).u32(w.bias ? 1 : 0).bytes(),
      x, parts[0], w.bias ?? parts[0], out,
    ],
    workgroups: e.grid(out.size, 64),
    constants: { ACT: ACTIVATION_ID[opts.act ?? 'none'] },
  });
  return out;
}
