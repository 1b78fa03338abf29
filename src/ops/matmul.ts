// The tiled GEMM core (shaders/matmul.wgsl) and the batched `matmul` op. `linear` and `conv2d`
// drive the same core with other A loaders (dense rows, or an im2col gather from an NHWC image).
import type { Engine } from '../gpu/engine';
import { GpuCapabilityError } from '../gpu/errors';
import { type Kernel, kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import { bytesPerElement, type DType, fmtShape, numel, type Tensor } from '../gpu/tensor';
import { ACTIVATION_ID, ACTIVATIONS_WGSL, type Activation } from './activation';
import coreWgsl from '../../shaders/matmul.wgsl?raw';
import aDenseWgsl from '../../shaders/matmul_a.wgsl?raw';
import aDenseVec4Wgsl from '../../shaders/matmul_a_vec4.wgsl?raw';
import bWgsl from '../../shaders/matmul_b.wgsl?raw';
import bVec4Wgsl from '../../shaders/matmul_b_vec4.wgsl?raw';
import aConvWgsl from '../../shaders/conv2d.wgsl?raw';
import aConvVec4Wgsl from '../../shaders/conv2d_vec4.wgsl?raw';
import bQ8Wgsl from '../../shaders/matmul_b_q8.wgsl?raw';
import bQ4Wgsl from '../../shaders/matmul_b_q4.wgsl?raw';
import { QuantizedTensor, type WeightTensor } from './weights';

/** Output block of one workgroup (16x16 threads, 4x4 outputs each). */
export const GEMM_TILE = 64;

/** Where the A operand comes from: dense rows [batch, M, K] or an NHWC image gathered as im2col. */
export type GemmA = 'dense' | 'conv';

const A_SOURCES: Record<GemmA, { scalar: string; vec4: string }> = {
  dense: { scalar: aDenseWgsl, vec4: aDenseVec4Wgsl },
  conv: { scalar: aConvWgsl, vec4: aConvVec4Wgsl },
};

/** Where the B operand comes from: dense [batch, N, K] / [batch, K, N] (scalar or vec4 loads), or a quantized weight. */
type GemmB = 'dense' | 'dense4' | 'q8' | 'q4';

const B_SOURCES: Record<GemmB, string> = { dense: bWgsl, dense4: bVec4Wgsl, q8: bQ8Wgsl, q4: bQ4Wgsl };

const kernels = new Map<string, Kernel>();

function gemmKernel(a: GemmA, vecA: boolean, b: GemmB): Kernel {
  const name = `gemm_${a}${vecA ? '_a4' : ''}${b === 'dense' ? '' : b === 'dense4' ? '_b4' : `_${b}`}`;
  let k = kernels.get(name);
  if (!k) {
    k = kernel(name, [ACTIVATIONS_WGSL, coreWgsl, vecA ? A_SOURCES[a].vec4 : A_SOURCES[a].scalar, B_SOURCES[b]].join('\n'));
    kernels.set(name, k);
  }
  return k;
}

/** Fused epilogue: out = scale · act(acc + bias[n] + rowBias.table[(row / rowsPerEntry) % P, n]) + residual. */
export interface GemmEpilogue {
  act?: Activation;
  /** [N_total] */
  bias?: Tensor;
  /** table [P, N_total]; row r adds table[floor(r / rowsPerEntry) % P]. */
  rowBias?: { table: Tensor; rowsPerEntry: number };
  /** Same shape as the output; added after the activation (and the scale). */
  residual?: Tensor;
  /** Factor on the activated value before the residual; default 1 (exact: no change). */
  scale?: number;
}

/** Convolution geometry for the im2col A loader (input [*, H, W, Cin], output Ho x Wo). */
/** `pad` is the horizontal zero padding, `padY` the vertical one (default `pad`). */
export interface ConvGeometry { H: number; W: number; Cin: number; KW: number; Ho: number; Wo: number; stride: number; pad: number; padY?: number }

/** One GEMM dispatch: out[b, m, colOffset + n] for m < M, n < N (see shaders/matmul.wgsl). */
export interface GemmDispatch {
  op: string;
  aKind: GemmA;
  a: Tensor;
  /** Float B (any layout) or a quantized weight (transB only: [N, K] rows). */
  b: WeightTensor;
  out: Tensor;
  transB: boolean;
  batch: number;
  M: number; N: number; K: number;
  /** Elements between batches of A, B and out (0 broadcasts). */
  strideA: number; strideB: number; strideC: number;
  /** Row stride of out (= total output columns) and this dispatch's first column. */
  ldc: number; colOffset: number;
  conv?: ConvGeometry;
  epilogue: GemmEpilogue;
}

const dummies = new WeakMap<Engine, Map<DType, Tensor>>();

/** A 1-element tensor bound in place of an absent optional input (the kernel never reads it). */
function dummy(e: Engine, dtype: DType): Tensor {
  let m = dummies.get(e);
  if (!m) dummies.set(e, (m = new Map()));
  let t = m.get(dtype);
  if (!t) m.set(dtype, (t = e.empty([4], dtype, 'gemm.unused')));
  return t;
}

/** Throw a clear error when a tensor is too big to bind (splitting activations is the caller's job). */
export function checkBindable(e: Engine, op: string, what: string, t: Tensor): void {
  checkBindableShape(e, op, what, t.shape, t.dtype);
}

/** The same check for a tensor about to be allocated (so an oversize output is refused before allocation). */
export function checkBindableShape(e: Engine, op: string, what: string, shape: readonly number[], dtype: DType): void {
  const bytes = numel(shape) * bytesPerElement(dtype);
  if (bytes > e.maxBindingBytes) {
    throw new GpuCapabilityError(`${op}: ${what} Tensor<${dtype}>${fmtShape(shape)} is ${bytes} bytes, over the ${e.maxBindingBytes}-byte binding limit; split the work (fewer frames or rows per call)`);
  }
}

export function dispatchGemm(e: Engine, d: GemmDispatch): void {
  const { epilogue: ep, out } = d;
  const quant = d.b instanceof QuantizedTensor ? d.b : null;
  for (const [what, t] of [['input A', d.a], ['weight/B', quant ? undefined : d.b as Tensor], ['output', out], ['residual', ep.residual], ['bias', ep.bias], ['rowBias table', ep.rowBias?.table]] as const) {
    if (!t) continue;
    if (t.dtype !== out.dtype) throw new TypeError(`${d.op}: ${what} is ${t.dtype} but the output is ${out.dtype}`);
    checkBindable(e, d.op, what, t);
  }
  if (quant) {
    if (!d.transB || d.strideB !== 0 || quant.k !== d.K || quant.shape[0] !== d.N) {
      throw new RangeError(`${d.op}: quantized weight ${quant} does not fit a [${d.N}, ${d.K}] transposed, unbatched B`);
    }
    if (quant.wordsBytes > e.maxBindingBytes) throw new RangeError(`${d.op}: quantized weight ${quant} is over the binding limit; split it into row parts`);
  }
  const aligned = d.K % 4 === 0;
  const vecA = d.aKind === 'conv' ? d.conv!.Cin % 4 === 0 : aligned && d.strideA % 4 === 0;
  const vecB = d.transB && aligned && d.strideB % 4 === 0;
  const bKind: GemmB = quant ? (quant.format === 'int8' ? 'q8' : 'q4') : vecB ? 'dense4' : 'dense';
  const c = d.conv ?? { H: 0, W: 0, Cin: 0, KW: 0, Ho: 0, Wo: 0, stride: 0, pad: 0 };
  const rb = ep.rowBias;
  const params = new Params()
    .u32(d.M).u32(d.N).u32(d.K).u32(d.ldc)
    .u32(d.strideA).u32(d.strideB).u32(d.strideC).u32(d.colOffset)
    .u32(rb?.rowsPerEntry ?? 1).u32(rb?.table.shape[0] ?? 1).u32(rb ? rb.table.shape[1] : 0).i32(c.pad)
    .u32(c.H).u32(c.W).u32(c.Cin).u32(c.KW)
    .u32(c.Ho).u32(c.Wo).u32(c.stride).u32(d.transB ? d.K : d.N)
    .u32((ep.bias ? 1 : 0) | (rb ? 2 : 0) | (ep.residual ? 4 : 0))
    .f32(ep.scale ?? 1).i32(c.padY ?? c.pad);
  const unused = dummy(e, out.dtype);
  // Booleans go in as 0/1: GPUProgrammableStage.constants only takes numbers (Dawn rejects true/false).
  const constants: Record<string, number> = { ACT: ACTIVATION_ID[ep.act ?? 'none'] };
  if (bKind === 'dense') constants.TRANS_B = d.transB ? 1 : 0;
  const maxWg = e.limits.maxComputeWorkgroupsPerDimension;
  const wg = [Math.ceil(d.N / GEMM_TILE), Math.ceil(d.M / GEMM_TILE), d.batch] as const;
  if (wg[1] > maxWg || wg[2] > maxWg) throw new GpuCapabilityError(`${d.op}: M=${d.M} x batch ${d.batch} needs ${wg[1]}x${wg[2]} workgroups, over ${maxWg} per dimension; split the rows`);
  const bindings: (Tensor | GPUBufferBinding | ArrayBuffer)[] = [params.bytes(), d.a, quant ? { buffer: quant.words, offset: 0, size: quant.wordsBytes } : d.b as Tensor,
    ep.bias ?? unused, rb?.table ?? unused, ep.residual ?? unused, out];
  if (quant) bindings.push({ buffer: quant.scales, offset: 0, size: quant.scalesBytes });
  e.dispatch({ kernel: gemmKernel(d.aKind, vecA, bKind), dtype: out.dtype, bindings, workgroups: wg, constants });
}

/** Validate the shared epilogue inputs against an output of `rows` x `cols` (row-major, last dim cols). */
export function checkEpilogue(op: string, ep: GemmEpilogue, outShape: readonly number[], cols: number): void {
  if (ep.bias && (ep.bias.shape.length !== 1 || ep.bias.shape[0] !== cols)) {
    throw new RangeError(`${op}: bias ${ep.bias} should be [${cols}]`);
  }
  if (ep.residual && fmtShape(ep.residual.shape) !== fmtShape(outShape)) {
    throw new RangeError(`${op}: residual ${ep.residual} should have the output's shape ${fmtShape(outShape)}`);
  }
  if (ep.scale !== undefined && !Number.isFinite(ep.scale)) throw new RangeError(`${op}: epilogue scale ${ep.scale} must be finite`);
  const rb = ep.rowBias;
  if (rb) {
    if (rb.table.shape.length !== 2 || rb.table.shape[1] !== cols || rb.table.shape[0] < 1) {
      throw new RangeError(`${op}: rowBias table ${rb.table} should be [P, ${cols}]`);
    }
    if (!(Number.isInteger(rb.rowsPerEntry) && rb.rowsPerEntry >= 1)) {
      throw new RangeError(`${op}: rowBias.rowsPerEntry must be a positive integer, got ${rb.rowsPerEntry}`);
    }
  }
}

export interface MatmulOptions extends GemmEpilogue {
  /** b is [B, N, K] (each batch's B transposed) instead of [B, K, N]. */
  transB?: boolean;
}

/**
 * Batched matrix product: a [B, M, K] × b [B, K, N] (or [B, N, K] with transB) → [B, M, N], with
 * the fused epilogue (bias [N], act, rowBias, residual [B, M, N]). A batch of 1 in `b` broadcasts.
 */
export function matmul(e: Engine, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transB = opts.transB ?? false;
  if (a.shape.length !== 3 || b.shape.length !== 3) throw new RangeError(`matmul: expected a [B, M, K] and b [B, ${transB ? 'N, K' : 'K, N'}], got ${a} and ${b}`);
  const [B, M, K] = a.shape;
  const [Bb, d1, d2] = b.shape;
  const [Kb, N] = transB ? [d2, d1] : [d1, d2];
  if (Kb !== K || (Bb !== B && Bb !== 1)) {
    throw new RangeError(`matmul: a ${a} and b ${b}${transB ? ' (transB)' : ''} do not match: need b [${B} or 1, ${transB ? `N, ${K}` : `${K}, N`}]`);
  }
  if (a.dtype !== b.dtype) throw new TypeError(`matmul: a is ${a.dtype}, b is ${b.dtype}`);
  const outShape = [B, M, N];
  checkEpilogue('matmul', opts, outShape, N);
  checkBindable(e, 'matmul', 'input A', a);
  checkBindableShape(e, 'matmul', 'output', outShape, a.dtype);
  const out = e.empty(outShape, a.dtype);
  dispatchGemm(e, {
    op: 'matmul', aKind: 'dense', a, b, out, transB, batch: B, M, N, K,
    strideA: M * K, strideB: Bb === 1 ? 0 : K * N, strideC: M * N, ldc: N, colOffset: 0, epilogue: opts,
  });
  return out;
}
