// The values check every weight passes on its way from a file to the GPU: no NaN, no ±Inf, and no magnitude
// beyond 65504 (the largest f16, the precision the app computes in where it can; no SD1.5 / AnimateDiff weight
// comes anywhere near it, so such a value means a damaged or wrongly saved file). One pass over values that are on
// the CPU anyway; f16 tensors are checked on their bit patterns, without decoding.

import { WeightFileError } from './errors';

/** The largest magnitude a weight may have: the largest finite f16. */
export const MAX_WEIGHT_MAGNITUDE = 65504;

/** Throws a `non-finite` WeightFileError naming `file` and `tensor` unless every value is finite and ≤ 65504 in magnitude. */
export function checkFinite(values: Float32Array | Uint16Array, dtype: 'f32' | 'f16', file: string, tensor: string, context = ''): void {
  let first = -1;
  if (dtype === 'f16') {
    const bits = values as Uint16Array;
    for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7c00) === 0x7c00) { first = i; break; } // exponent all ones: Inf/NaN
  } else {
    const v = values as Float32Array, m = MAX_WEIGHT_MAGNITUDE;
    for (let i = 0; i < v.length; i++) if (!(v[i] <= m && v[i] >= -m)) { first = i; break; } // NaN fails both
  }
  if (first < 0) return;
  // Only a failing tensor is counted in full, for the message.
  let nan = 0, inf = 0, huge = 0;
  for (let i = first; i < values.length; i++) {
    const x = dtype === 'f16' ? f16Class(values[i]) : Number.isNaN(values[i]) ? 'nan' : !Number.isFinite(values[i]) ? 'inf' : Math.abs(values[i]) > MAX_WEIGHT_MAGNITUDE ? 'huge' : 'ok';
    if (x === 'nan') nan++; else if (x === 'inf') inf++; else if (x === 'huge') huge++;
  }
  const parts = [nan && `${nan} NaN`, inf && `${inf} infinite`, huge && `${huge} beyond ±${MAX_WEIGHT_MAGNITUDE}`].filter(Boolean).join(', ');
  const at = dtype === 'f16' ? `bits 0x${values[first].toString(16)}` : String(values[first]);
  throw new WeightFileError('non-finite', file, `tensor "${tensor}"${context} has ${parts} of its ${values.length} values (the first at index ${first}: ${at}); the file is damaged or was saved wrongly`);
}

function f16Class(bits: number): 'nan' | 'inf' | 'ok' {
  if ((bits & 0x7c00) !== 0x7c00) return 'ok';
  return (bits & 0x03ff) === 0 ? 'inf' : 'nan';
}
