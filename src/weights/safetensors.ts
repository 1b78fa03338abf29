// Safetensors reader (strict, streaming) and writer.
// File layout: u64 little-endian header length N, N bytes of UTF-8 JSON
//   { "<name>": { "dtype": "F16", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": {str: str} }
// then the data section; offsets are relative to its start (byte 8 + N), C order, little-endian.
// Only the header is read up front; each tensor is read on demand, so no file is ever held whole in memory.

import { DTYPE_SIZES, decodeFloat, encodeValues, isDtype, isFloatDtype, type Dtype } from './dtype';
import { previewJson, previewName } from '../util/json-preview';
import { WeightFileError } from './errors';
import { bytesSource, type ByteSource } from './source';

/** Upper bound on the JSON header (the reference implementation uses the same 100 MB guard). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  numel: number;
  /** Absolute offset in the file (8 + header length + data_offsets[0]). */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  readonly name: string;
  readonly source: ByteSource;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** A floating tensor (F64/F32/F16/BF16) as f32 values. */
  read(name: string): Promise<Float32Array>;
  /** The stored little-endian bytes of any tensor (integer dtypes, or f16 bytes uploaded unchanged). */
  readRaw(name: string): Promise<Uint8Array>;
}

const PICKLE_HINT =
  'is a PyTorch pickle (.ckpt/.pt/.bin); pickles can run code, so AnimateDiff Web only reads .safetensors. ' +
  'Download the .safetensors version of the model (most Hugging Face and Civitai models offer one, e.g. ' +
  'guoyww/animatediff-motion-adapter-v1-5-2 or conrevo/AnimateDiff-A1111 for motion modules), or convert it once on ' +
  'your own machine with Python: `import torch, safetensors.torch as st; sd = torch.load("in.ckpt", map_location="cpu", ' +
  'weights_only=True); sd = sd.get("state_dict", sd); st.save_file({k: v.contiguous() for k, v in sd.items() ' +
  'if hasattr(v, "contiguous")}, "out.safetensors")`';

/** Bytes the reader looks at before deciding what kind of file it has. */
export const SNIFF_BYTES = 16;

/**
 * True when the first bytes can start a safetensors file: the u64 little-endian header length is at most
 * MAX_HEADER_BYTES (so its four high bytes are zero) and the JSON header begins with `{` at byte 8.
 */
export function looksLikeSafetensors(head: Uint8Array): boolean {
  if (head.length < 9) return false;
  const lo = head[0] | (head[1] << 8) | (head[2] << 16), hi = head[3];
  const headerLength = lo + hi * 2 ** 24;
  return head[4] === 0 && head[5] === 0 && head[6] === 0 && head[7] === 0 && headerLength <= MAX_HEADER_BYTES && head[8] === 0x7b;
}

/**
 * The pickle opcodes (Python's pickletools): a real pickle continues `\x80 <protocol>` with one of them. The byte
 * after the protocol of a safetensors file whose header length is 640, 896, 1152 or 1408 (+ k·65536) is k's low byte.
 */
const PICKLE_OPCODES = new Set([
  ...'(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])GBC'.split('').map((c) => c.charCodeAt(0)),
  ...Array.from({ length: 0x98 - 0x80 + 1 }, (_, i) => 0x80 + i), // PROTO … READONLY_BUFFER (protocols 2–5)
]);

/**
 * True when the first bytes are a zip archive (torch.save ≥ 1.6) or a raw pickle stream (the PROTO opcode of
 * protocol 2–5, then another opcode), and not the start of a safetensors file: a header length can begin with the
 * same bytes (640 = 80 02 00 00 …), but a safetensors file has zeros in the high length bytes and `{` at byte 8,
 * where a zip has its version/flags fields and a pickle its next opcodes or frame length.
 */
export function looksLikePickle(head: Uint8Array): boolean {
  if (looksLikeSafetensors(head)) return false;
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return true;
  return head.length >= 3 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5 && PICKLE_OPCODES.has(head[2]);
}

/** File names of PyTorch's pickle-based formats. */
const PICKLE_NAME = /\.(ckpt|pt|pth|bin|pkl)$/i;

/**
 * The verdict on a file from its name and first SNIFF_BYTES bytes alone, as openSafetensors gives it: throws the
 * `pickle` / `not-safetensors` WeightFileError for a PyTorch checkpoint. The UI calls it on a dropped file, so a
 * .ckpt is named at once instead of at Generate.
 */
export function checkModelFileHead(file: string, head: Uint8Array): void {
  if (looksLikePickle(head)) throw new WeightFileError('pickle', file, `this file ${PICKLE_HINT}`);
  if (!looksLikeSafetensors(head) && PICKLE_NAME.test(file)) {
    // Named like a PyTorch checkpoint and not a safetensors file: whatever it holds, it is not a format read here.
    throw new WeightFileError('not-safetensors', file, `this file is neither a safetensors file nor a PyTorch pickle that could be recognised; its name says it ${PICKLE_HINT}`);
  }
}

/** Plain JSON object (not an array, not null). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function openSafetensors(src: ByteSource): Promise<SafetensorsFile> {
  const file = src.name;
  if (!Number.isSafeInteger(src.size) || src.size < 8) {
    throw new WeightFileError('truncated', file, `expected at least 8 bytes (the safetensors header length), the file has ${src.size}`);
  }
  const head = await src.read(0, Math.min(src.size, SNIFF_BYTES));
  checkModelFileHead(file, head);
  const dv = new DataView(head.buffer, head.byteOffset, 8);
  const lo = dv.getUint32(0, true), hi = dv.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_BYTES) {
    const n = hi * 2 ** 32 + lo;
    throw new WeightFileError(
      'header-too-large', file,
      `the header length field says ${n} bytes; expected at most ${MAX_HEADER_BYTES} (this is not a safetensors file, or it is corrupt)`,
    );
  }
  const headerLen = lo;
  if (headerLen > src.size - 8) {
    throw new WeightFileError('truncated', file, `the header length field says ${headerLen} bytes, but only ${src.size - 8} follow it (truncated or not a safetensors file)`);
  }
  if (headerLen < 2) throw new WeightFileError('bad-json', file, `expected a JSON object header, found ${headerLen} bytes`);
  if (head[8] !== 0x7b) {
    // The reference implementation requires the header to begin with `{` (no leading whitespace).
    throw new WeightFileError('bad-json', file, `the header must begin with "{", found byte 0x${head[8].toString(16).padStart(2, '0')} (not a safetensors file, or corrupt)`);
  }

  const headerBytes = await src.read(8, headerLen);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new WeightFileError('bad-json', file, 'the header is not valid UTF-8 (not a safetensors file, or corrupt)');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new WeightFileError('bad-json', file, `the header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(json)) throw new WeightFileError('bad-json', file, `expected a JSON object header, found ${Array.isArray(json) ? 'an array' : typeof json}`);

  const dataStart = 8 + headerLen;
  const dataSize = src.size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  const metadata: Record<string, string> = {};
  const ranges: { name: string; begin: number; end: number }[] = [];

  for (const name of Object.keys(json)) {
    const entry = json[name];
    const shown = previewName(name);
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) throw new WeightFileError('bad-json', file, `__metadata__ must be an object of strings, found ${previewJson(entry)}`);
      for (const k of Object.keys(entry)) {
        const v = entry[k];
        if (typeof v !== 'string') throw new WeightFileError('bad-json', file, `__metadata__.${previewName(k)} must be a string, found ${previewJson(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(entry)) throw new WeightFileError('bad-json', file, `tensor "${shown}": expected {dtype, shape, data_offsets}, found ${previewJson(entry)}`);
    const { dtype, shape, data_offsets: offs } = entry;
    if (!isDtype(dtype)) {
      throw new WeightFileError('bad-dtype', file, `tensor "${shown}": unknown dtype ${previewJson(dtype, 40)} (expected one of ${Object.keys(DTYPE_SIZES).join(', ')})`);
    }
    if (!Array.isArray(shape) || shape.length > 16 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new WeightFileError('bad-shape', file, `tensor "${shown}": shape must be a list of at most 16 non-negative integers, found ${previewJson(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1]) {
      throw new WeightFileError('bad-offsets', file, `tensor "${shown}": data_offsets must be [begin, end] integers with 0 ≤ begin ≤ end, found ${previewJson(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (end > dataSize) {
      throw new WeightFileError('truncated', file, `tensor "${shown}" ends at data byte ${end}, but the data section has only ${dataSize} bytes (truncated download?)`);
    }
    // numel without overflow: every partial product stays ≤ dataSize (else the tensor cannot fit anyway).
    const elSize = DTYPE_SIZES[dtype];
    let numel = 1;
    if ((shape as number[]).includes(0)) numel = 0;
    else {
      for (const d of shape as number[]) {
        numel *= d;
        if (numel * elSize > dataSize) {
          throw new WeightFileError('size-mismatch', file, `tensor "${shown}": shape ${previewJson(shape)} × ${dtype} needs more bytes than the whole data section (${dataSize})`);
        }
      }
    }
    if (end - begin !== numel * elSize) {
      throw new WeightFileError('size-mismatch', file, `tensor "${shown}": shape ${previewJson(shape)} × ${dtype} = ${numel * elSize} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    tensors.set(name, { dtype, shape: (shape as number[]).slice(), numel, byteOffset: dataStart + begin, byteLength: end - begin });
    if (end > begin) ranges.push({ name, begin, end });
  }

  ranges.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].begin < ranges[i - 1].end) {
      throw new WeightFileError('overlap', file, `tensors "${previewName(ranges[i - 1].name)}" [${ranges[i - 1].begin}, ${ranges[i - 1].end}) and "${previewName(ranges[i].name)}" [${ranges[i].begin}, ${ranges[i].end}) overlap`);
    }
  }

  function info(name: string): TensorInfo {
    const t = tensors.get(name);
    if (!t) throw new WeightFileError('missing-keys', file, `no tensor named "${previewName(name)}"`);
    return t;
  }
  async function readRaw(name: string): Promise<Uint8Array> {
    const t = info(name);
    return src.read(t.byteOffset, t.byteLength);
  }
  return {
    name: file,
    source: src,
    tensors,
    metadata,
    readRaw,
    async read(name) {
      const t = info(name);
      if (!isFloatDtype(t.dtype)) {
        throw new WeightFileError('bad-dtype', file, `tensor "${previewName(name)}" is ${t.dtype}; expected a floating type (F32/F16/BF16/F64) for a weight`);
      }
      return decodeFloat(t.dtype, await readRaw(name));
    },
  };
}

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  /** Values (encoded to `dtype`) or, as a Uint8Array with `raw: true`, the stored bytes as is. */
  data: ArrayLike<number> | ArrayLike<bigint>;
  raw?: boolean;
}

/** Builds a safetensors file in memory (tests, the e2e tiny model). Header padded with spaces to 8 bytes. */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.name in header) throw new Error(`writeSafetensors: duplicate tensor name "${t.name}"`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const bytes = t.raw ? (t.data as Uint8Array) : encodeValues(t.dtype, t.data);
    if (bytes.byteLength !== numel * DTYPE_SIZES[t.dtype]) {
      throw new Error(`writeSafetensors: "${t.name}" has ${bytes.byteLength} bytes, shape ${JSON.stringify(t.shape)} × ${t.dtype} needs ${numel * DTYPE_SIZES[t.dtype]}`);
    }
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  const unpadded = new TextEncoder().encode(JSON.stringify(header));
  const jsonBytes = new Uint8Array(Math.ceil(unpadded.byteLength / 8) * 8).fill(0x20); // pad with spaces
  jsonBytes.set(unpadded);
  const out = new Uint8Array(8 + jsonBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  out.set(jsonBytes, 8);
  let p = 8 + jsonBytes.byteLength;
  for (const b of blobs) { out.set(b, p); p += b.byteLength; }
  return out;
}

/** Convenience: parse an in-memory file. */
export function openSafetensorsBytes(bytes: Uint8Array, name = 'memory.safetensors'): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(bytes, name));
}
