// Minimal reader of the oracle's safetensors files (inputs/outputs): F32, F64, F16, BF16, I64, I32.
// The weight loaders (src/weights) handle model files; this one exists because reference files also
// hold float64 twins and int64 ids, which the harness needs as numbers.

/** One tensor of a reference file. Floats are kept as float64 values so `_f64` twins keep their precision. */
export interface RefTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Values as float64 (floats) or exact integers (I64/I32 within ±2^53). */
  data: Float64Array;
}

export class TensorFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'TensorFileError';
  }
}

const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

/** Parse a whole safetensors file held in memory. */
export function parseTensorFile(bytes: Uint8Array, file: string): Map<string, RefTensor> {
  if (bytes.byteLength < 8) throw new TensorFileError(file, `${bytes.byteLength} bytes is too short for a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (8 + headerLen > bytes.byteLength) throw new TensorFileError(file, `header of ${headerLen} bytes runs past the end of the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new TensorFileError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + headerLen;
  const out = new Map<string, RefTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const size = DTYPE_BYTES[info.dtype];
    if (!size) throw new TensorFileError(file, `tensor ${name} has unsupported dtype ${info.dtype}`);
    const n = info.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = info.data_offsets;
    if (end - begin !== n * size || base + end > bytes.byteLength) {
      throw new TensorFileError(file, `tensor ${name} (${info.dtype} ${JSON.stringify(info.shape)}) has data offsets [${begin}, ${end}] that do not fit`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset + base + begin, n * size);
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      switch (info.dtype) {
        case 'F64': data[i] = view.getFloat64(i * 8, true); break;
        case 'F32': data[i] = view.getFloat32(i * 4, true); break;
        case 'I64': data[i] = Number(view.getBigInt64(i * 8, true)); break;
        case 'I32': data[i] = view.getInt32(i * 4, true); break;
        case 'F16': data[i] = halfToFloat(view.getUint16(i * 2, true)); break;
        case 'BF16': data[i] = new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0]; break;
      }
    }
    out.set(name, { name, dtype: info.dtype, shape: info.shape, data });
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A tensor's values as float32 (what the GPU gets). */
export const toF32 = (t: RefTensor): Float32Array => Float32Array.from(t.data);
