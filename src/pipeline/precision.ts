// The precision of a run: one setting with two parts, and how "auto" resolves.
//
//   activations  f32 | f16           the engine's compute/storage dtype (accumulation is f32 either way)
//   weights      f32 | f16 | int8 | int4   how the UNet's and motion modules' linear and conv weights are stored;
//                                    norms, biases, embeddings, the VAE and the text encoder keep the float dtype
//
// Float weights are stored in the activation dtype (the GEMM's float B loaders read T), so f16 weights go with f16
// activations and f32 with f32; int8/int4 go with either (their B loaders dequantize to f32 in registers).
// "auto": activations f16 where the adapter has shader-f16, else f32; weights the widest that the memory planner
// says fits (float, then int8, then int4) when a memory budget is known, else float.
import { KindedError } from '../errors';
import type { WeightPrecision } from '../plan/weights';
import type { WeightFormat } from '../ops/weights';

export type { WeightPrecision };
export type ActivationPrecision = 'f32' | 'f16';

/** A resolved precision: what a run uses. */
export interface Precision {
  activations: ActivationPrecision;
  weights: WeightPrecision;
}

/** What the user asks for: each part fixed or 'auto'. */
export interface PrecisionSetting {
  activations: ActivationPrecision | 'auto';
  weights: WeightPrecision | 'auto';
}

export const AUTO_PRECISION: PrecisionSetting = { activations: 'auto', weights: 'auto' };

export const ACTIVATION_PRECISIONS: readonly ActivationPrecision[] = ['f16', 'f32'];
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['f32', 'f16', 'int8', 'int4'];

/** A setting that contradicts itself ('invalid-settings') or that this adapter cannot run ('capability'); names what to pick instead. */
export class PrecisionError extends KindedError {
  constructor(message: string, kind: 'invalid-settings' | 'capability' = 'invalid-settings') {
    super(kind, message);
  }
}

const isFloat = (w: WeightPrecision): w is ActivationPrecision => w === 'f32' || w === 'f16';

/** Checks a setting's shape (from a message or stored history): throws PrecisionError naming the bad part. */
export function checkPrecisionSetting(s: unknown): PrecisionSetting {
  const o = s as Partial<PrecisionSetting> | null;
  if (!o || typeof o !== 'object') throw new PrecisionError(`precision must be { activations, weights }, got ${JSON.stringify(s)}`);
  if (o.activations !== 'auto' && !ACTIVATION_PRECISIONS.includes(o.activations as ActivationPrecision)) {
    throw new PrecisionError(`activation precision must be auto, f16 or f32, got ${JSON.stringify(o.activations)}`);
  }
  if (o.weights !== 'auto' && !WEIGHT_PRECISIONS.includes(o.weights as WeightPrecision)) {
    throw new PrecisionError(`weight precision must be auto, f32, f16, int8 or int4, got ${JSON.stringify(o.weights)}`);
  }
  return { activations: o.activations!, weights: o.weights! };
}

/**
 * The activation dtype a setting asks the engine for, given whether the adapter has shader-f16 (float weights
 * pin it: f16 weights need f16 activations and f32 weights f32).
 */
export function resolveActivations(s: PrecisionSetting, adapter: { f16: boolean }): ActivationPrecision {
  const want = s.activations !== 'auto' ? s.activations : s.weights !== 'auto' && isFloat(s.weights) ? s.weights : adapter.f16 ? 'f16' : 'f32';
  if (s.weights !== 'auto' && isFloat(s.weights) && s.weights !== want) {
    throw new PrecisionError(`${s.weights} weights run with ${s.weights} activations (float weights are stored in the compute dtype); pick ${s.weights} activations, or int8/int4 weights`);
  }
  if (want === 'f16' && !adapter.f16) throw new PrecisionError('f16 needs a GPU with shader-f16; this one has none: pick f32 activations (with f32, int8 or int4 weights)', 'capability');
  return want;
}

/** The dtype to ask the engine for: the set activations, else the dtype float weights need, else the adapter's best. */
export function engineRequestFor(s: PrecisionSetting): ActivationPrecision | 'auto' {
  if (s.activations !== 'auto') return s.activations;
  return s.weights !== 'auto' && isFloat(s.weights) ? s.weights : 'auto';
}

/**
 * The full precision: activations as above; weights as set, or for 'auto' the first of float (= the activation
 * dtype), int8, int4 that `fits` accepts (the memory planner's verdict; without one, float).
 */
export async function resolvePrecision(
  s: PrecisionSetting, adapter: { f16: boolean }, fits?: (p: Precision) => boolean | Promise<boolean>,
): Promise<Precision> {
  const activations = resolveActivations(s, adapter);
  if (s.weights !== 'auto') return { activations, weights: s.weights };
  const ladder: WeightPrecision[] = [activations, 'int8', 'int4'];
  if (fits) for (const weights of ladder) if (await fits({ activations, weights })) return { activations, weights };
  return { activations, weights: fits ? 'int4' : activations };
}

/** How the model loaders store GEMM weights for a precision. */
export function weightFormatOf(p: Precision): WeightFormat {
  return isFloat(p.weights) ? 'float' : p.weights;
}

/** "f16 activations, int8 weights" (run summaries, benchmark tables). */
export function describePrecision(p: Precision): string {
  return `${p.activations} activations, ${p.weights} weights`;
}
