// Parameter holders of the model blocks and their loading from canonical weights, tensor by tensor.
// A `Scope` is a name prefix (candle's VarBuilder `pp`): `s.pp('resnets').pp(0).name('conv1.weight')` is
// `<prefix>.resnets.0.conv1.weight`. Every read checks the stored shape against what the block expects, so a
// wrong file fails at load with the tensor's name instead of producing garbage.
import { KindedError } from '../errors';
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';
import { type Conv2dWeight, convWeightToOhwi, type LinearWeight, prepareConv2d, prepareLinear, prepareQuantized, releaseWeight, type WeightFormat } from '../ops/weights';
import { quantize, type QuantizedHostTensor } from '../weights/quantize';
import type { QuantizedWeightCache } from '../weights/quantized-cache';
import { hostToF32, type HostTensor, type WeightMap } from '../weights/weight-map';

/** A weight the model needs is missing or has another shape than the topology implies. */
export class ModelWeightsError extends KindedError {
  constructor(message: string) {
    super('model-mismatch', message);
  }
}

/** Anything uploaded at load; released all at once when a load fails half-way. */
export interface Releasable {
  release(): void;
}

export class Scope {
  /**
   * `format`: how the linear and conv weights loaded through this scope tree are stored (float in the engine's
   * dtype, or int8/int4 quantized at load); norms and biases are always float. `quantized`: where quantized
   * weights of earlier loads are kept (src/weights/quantized-cache.ts), read instead of quantizing again.
   */
  constructor(
    readonly weights: WeightMap, readonly prefix = '', readonly loaded: Releasable[] = [], readonly format: WeightFormat = 'float',
    readonly quantized?: QuantizedWeightCache,
  ) {}

  /** A child scope: `pp('down_blocks').pp(0)`. */
  pp(part: string | number): Scope {
    return new Scope(this.weights, this.name(String(part)), this.loaded, this.format, this.quantized);
  }

  /** Remember an uploaded tensor / weight so `releaseLoaded` can undo a failed load. */
  track<T extends Releasable | LinearWeight | Conv2dWeight>(x: T): T {
    this.loaded.push('release' in x ? (x as Releasable) : { release: () => releaseWeight(x as LinearWeight) });
    return x;
  }

  /** Release everything loaded through this scope tree (after a failed load). */
  releaseLoaded(): void {
    for (const r of this.loaded.splice(0)) r.release();
  }

  name(suffix: string): string {
    return this.prefix ? `${this.prefix}.${suffix}` : suffix;
  }

  has(suffix: string): boolean {
    return this.weights.has(this.name(suffix));
  }

  shape(suffix: string): readonly number[] {
    const n = this.name(suffix);
    if (!this.weights.has(n)) throw new ModelWeightsError(`missing weight ${n}`);
    return this.weights.shape(n);
  }

  /** Count consecutive children `<suffix>.0`, `<suffix>.1`, … that have `<child>.<probe>`. */
  count(suffix: string, probe: string): number {
    let n = 0;
    while (this.has(`${suffix}.${n}.${probe}`)) n++;
    return n;
  }

  /** Read a tensor in its stored precision, checking its shape (`-1` in `expect` matches any size). */
  async get(suffix: string, expect?: readonly number[]): Promise<HostTensor> {
    const n = this.name(suffix);
    const shape = this.shape(suffix);
    if (expect && (shape.length !== expect.length || shape.some((d, i) => expect[i] !== -1 && expect[i] !== d))) {
      throw new ModelWeightsError(`weight ${n} has shape [${shape.join(', ')}], expected [${expect.join(', ')}]`);
    }
    return this.weights.get(n);
  }
}

/**
 * The quantized form of weight `key` (a canonical name) in the GEMM layout `shape`, when the scope stores weights
 * quantized and keeps a cache of them: read from the cache, else quantized from `values()` and recorded there.
 * Null when the scope has no cache (prepareLinear/prepareConv2d then quantize as they upload).
 */
async function cachedQuantized(e: Engine, s: Scope, key: string, shape: readonly number[], values: () => Promise<Float32Array>): Promise<QuantizedHostTensor | null> {
  if (s.format === 'float' || !s.quantized || e.simulated) return null;
  const hit = await s.quantized.get(key, s.format, shape);
  if (hit) return hit;
  const q = quantize(s.format, await values(), shape);
  await s.quantized.put(key, q);
  return q;
}

/** Affine parameters of a GroupNorm / LayerNorm, [C] each. */
export interface NormParams {
  gamma: Tensor;
  beta: Tensor;
}

export async function loadNorm(e: Engine, s: Scope, name: string, channels: number): Promise<NormParams> {
  const g = await s.get(`${name}.weight`, [channels]);
  const b = await s.get(`${name}.bias`, [channels]);
  const gamma = s.track(e.upload(g.data, [channels], e.dtype, s.name(`${name}.weight`)));
  const beta = s.track(e.upload(b.data, [channels], e.dtype, s.name(`${name}.bias`)));
  return { gamma, beta };
}

export function releaseNorm(n: NormParams): void {
  n.gamma.release();
  n.beta.release();
}

/**
 * A linear layer `name` with weight [out, in] (a 1×1 conv's [out, in, 1, 1] is accepted as the same matrix:
 * over NHWC activations the two are one operation). Bias optional unless `requireBias`.
 */
export async function loadLinear(
  e: Engine, s: Scope, name: string, expect: { out?: number; in?: number; bias?: 'required' | 'none' | 'optional' } = {},
): Promise<LinearWeight> {
  const shape = s.shape(`${name}.weight`);
  const is1x1 = shape.length === 4 && shape[2] === 1 && shape[3] === 1;
  if (shape.length !== 2 && !is1x1) {
    throw new ModelWeightsError(`weight ${s.name(`${name}.weight`)} has shape [${shape.join(', ')}], expected a linear [out, in] or a 1×1 conv [out, in, 1, 1]`);
  }
  const [n, k] = shape;
  if ((expect.out !== undefined && n !== expect.out) || (expect.in !== undefined && k !== expect.in)) {
    throw new ModelWeightsError(`weight ${s.name(`${name}.weight`)} has shape [${shape.join(', ')}], expected [${expect.out ?? 'any'}, ${expect.in ?? 'any'}]`);
  }
  const hasBias = s.has(`${name}.bias`);
  if (expect.bias === 'required' && !hasBias) throw new ModelWeightsError(`missing weight ${s.name(`${name}.bias`)}`);
  if (expect.bias === 'none' && hasBias) throw new ModelWeightsError(`unexpected bias ${s.name(`${name}.bias`)} (this layer has none)`);
  const b = hasBias ? await s.get(`${name}.bias`, [n]) : undefined;
  const q = await cachedQuantized(e, s, s.name(`${name}.weight`), [n, k], async () => hostToF32(await s.get(`${name}.weight`)));
  if (q) return s.track(prepareQuantized(e, q, b, undefined, 'linear.weight'));
  const w = await s.get(`${name}.weight`);
  return s.track(prepareLinear(e, w, [n, k], b, undefined, s.format));
}

/**
 * Several linear layers over the same input fused into one: weights stacked along the output dim in the given
 * order (e.g. to_q, to_k, to_v → [3C, C]), so one GEMM produces [.., q | k | v]. None may have a bias.
 */
export async function loadFusedLinear(e: Engine, s: Scope, names: readonly string[], expectIn?: number): Promise<{ weight: LinearWeight; outs: number[] }> {
  const shapes = names.map((n) => s.shape(`${n}.weight`));
  const k = shapes[0][1];
  for (const [i, sh] of shapes.entries()) {
    if (sh.length !== 2 || sh[1] !== k || (expectIn !== undefined && sh[1] !== expectIn)) {
      throw new ModelWeightsError(`weight ${s.name(`${names[i]}.weight`)} has shape [${sh.join(', ')}], expected [out, ${expectIn ?? k}]`);
    }
    if (s.has(`${names[i]}.bias`)) throw new ModelWeightsError(`${s.name(`${names[i]}.bias`)}: fused projections without bias only`);
  }
  const outs = shapes.map((sh) => sh[0]);
  const total = outs.reduce((a, b) => a + b, 0);
  // Stacked in the parts' stored precision (f32 if they differ), one part read at a time.
  const stacked = async (): Promise<HostTensor> => {
    const parts: HostTensor[] = [];
    for (const n of names) parts.push(await s.get(`${n}.weight`));
    const f16 = parts.every((p) => p.dtype === 'f16');
    const data = f16 ? new Uint16Array(total * k) : new Float32Array(total * k);
    let row = 0;
    for (const [i, p] of parts.entries()) {
      data.set(f16 ? p.data : hostToF32(p), row * k);
      row += outs[i];
    }
    return { dtype: f16 ? 'f16' : 'f32', shape: [total, k], data };
  };
  const q = await cachedQuantized(e, s, s.name(`${names.join('+')}.weight`), [total, k], async () => hostToF32(await stacked()));
  if (q) return { weight: s.track(prepareQuantized(e, q, undefined, undefined, 'linear.weight')), outs };
  return { weight: s.track(prepareLinear(e, await stacked(), [total, k], undefined, undefined, s.format)), outs };
}

/** A conv layer `name` with weight (Cout, Cin, KH, KW) and bias [Cout]. */
export async function loadConv(e: Engine, s: Scope, name: string, expect: { out?: number; in?: number; kernel?: number } = {}): Promise<Conv2dWeight> {
  const shape = s.shape(`${name}.weight`);
  if (shape.length !== 4) throw new ModelWeightsError(`weight ${s.name(`${name}.weight`)} has shape [${shape.join(', ')}], expected a conv (Cout, Cin, KH, KW)`);
  const [co, ci, kh, kw] = shape;
  if ((expect.out !== undefined && co !== expect.out) || (expect.in !== undefined && ci !== expect.in) ||
    (expect.kernel !== undefined && (kh !== expect.kernel || kw !== expect.kernel))) {
    throw new ModelWeightsError(`weight ${s.name(`${name}.weight`)} has shape [${shape.join(', ')}], expected [${expect.out ?? 'any'}, ${expect.in ?? 'any'}, ${expect.kernel ?? 'k'}, ${expect.kernel ?? 'k'}]`);
  }
  const b = s.has(`${name}.bias`) ? await s.get(`${name}.bias`, [co]) : undefined;
  // Quantized convs are stored in the GEMM's [Cout, KH, KW, Cin] order (prepareConv2d's permutation).
  const q = await cachedQuantized(e, s, s.name(`${name}.weight`), [co, kh, kw, ci],
    async () => convWeightToOhwi(hostToF32(await s.get(`${name}.weight`)), [co, ci, kh, kw]));
  if (q) return s.track(prepareQuantized(e, q, b, undefined, 'conv2d.weight'));
  const w = await s.get(`${name}.weight`);
  return s.track(prepareConv2d(e, w, [co, ci, kh, kw], b, undefined, s.format));
}

export { releaseWeight };
