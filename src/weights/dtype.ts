// Safetensors element types: sizes and decoding of the floating ones to f32 (little-endian storage).

import { f32ToF16Bits, f16BitsToF32 } from '../gpu/half';

export const DTYPE_SIZES = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
} as const;

export type Dtype = keyof typeof DTYPE_SIZES;
export type FloatDtype = 'F64' | 'F32' | 'F16' | 'BF16';

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

export function isFloatDtype(d: Dtype): d is FloatDtype {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

let f16Table: Float32Array | null = null;
/** All 65536 f16 bit patterns as f32: decoding a multi-MB tensor becomes one table lookup per element. */
function f16Lut(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

/** f16 bit patterns → f32 values through a 65536-entry table (one lookup per element). */
export function f16BitsToF32Array(bits: Uint16Array): Float32Array {
  const lut = f16Lut();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = lut[bits[i]];
  return out;
}

/** Little-endian bytes of a floating tensor → f32 values. `bytes` may be unaligned. */
export function decodeFloat(dtype: FloatDtype, bytes: Uint8Array): Float32Array {
  const size = DTYPE_SIZES[dtype];
  const n = bytes.byteLength / size;
  // Copy into an aligned buffer when needed (typed-array views require alignment).
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength) as ArrayBuffer);
    case 'F64': {
      const src = new Float64Array(aligned.buffer as ArrayBuffer, aligned.byteOffset, n);
      return Float32Array.from(src);
    }
    case 'F16': {
      const src = new Uint16Array(aligned.buffer as ArrayBuffer, aligned.byteOffset, n);
      const lut = f16Lut();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = lut[src[i]];
      return out;
    }
    case 'BF16': {
      const src = new Uint16Array(aligned.buffer as ArrayBuffer, aligned.byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16; // bf16 is the top half of an f32
      return out;
    }
  }
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Numbers → little-endian bytes of `dtype` (for writing files; F16 rounds to nearest even, BF16 truncates-to-nearest-even). */
export function encodeValues(dtype: Dtype, values: ArrayLike<number> | ArrayLike<bigint>): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_SIZES[dtype]);
  const dv = new DataView(out.buffer);
  const num = (i: number) => Number(values[i]);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'F64': dv.setFloat64(i * 8, num(i), true); break;
      case 'F32': dv.setFloat32(i * 4, num(i), true); break;
      case 'F16': dv.setUint16(i * 2, f32ToF16Bits(num(i)), true); break;
      case 'BF16': {
        scratchF32[0] = num(i);
        const u = scratchU32[0];
        const rounded = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
        dv.setUint16(i * 2, Number.isNaN(scratchF32[0]) ? 0x7fc0 : rounded, true);
        break;
      }
      case 'I64': dv.setBigInt64(i * 8, BigInt(values[i] as number | bigint), true); break;
      case 'U64': dv.setBigUint64(i * 8, BigInt(values[i] as number | bigint), true); break;
      case 'I32': dv.setInt32(i * 4, num(i), true); break;
      case 'U32': dv.setUint32(i * 4, num(i), true); break;
      case 'I16': dv.setInt16(i * 2, num(i), true); break;
      case 'U16': dv.setUint16(i * 2, num(i), true); break;
      case 'I8': dv.setInt8(i, num(i)); break;
      case 'U8': case 'BOOL': case 'F8_E4M3': case 'F8_E5M2': dv.setUint8(i, num(i)); break;
    }
  }
  return out;
}
