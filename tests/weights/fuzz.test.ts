// Fuzzing the safetensors reader: tens of thousands of mutated/truncated files. Every outcome must be either a
// parsed file whose tensors all lie inside the file, or a WeightFileError; never another exception, never a hang,
// never a read outside the file or one larger than the file (which would be the allocation a bad length causes).
// And the verdict must be right: each input is also judged by `validBySpec`, the format's rules written out here
// independently of the reader, and the reader must accept exactly the files the rules accept.
import { describe, expect, it } from 'vitest';
import { DTYPE_SIZES, type Dtype } from '../../src/weights/dtype';
import { WeightFileError } from '../../src/weights/errors';
import { MAX_HEADER_BYTES, openSafetensors, writeSafetensors } from '../../src/weights/safetensors';
import type { ByteSource } from '../../src/weights/source';
import { randn, rng } from '../random';

/** A ByteSource over bytes that fails the test on any read outside the file or longer than the file. */
function guardedSource(bytes: Uint8Array): ByteSource & { violations: string[] } {
  const violations: string[] = [];
  return {
    name: 'fuzz.safetensors',
    size: bytes.length,
    violations,
    async read(offset, length) {
      if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length)) violations.push(`read(${offset}, ${length}) outside ${bytes.length}`);
      if (length > bytes.length) violations.push(`read of ${length} > file size ${bytes.length}`);
      return bytes.slice(offset, offset + length);
    },
  };
}

function baseFile(): Uint8Array {
  const v = randn(64, 3);
  return writeSafetensors([
    { name: 'down_blocks.0.resnets.0.conv1.weight', dtype: 'F32', shape: [2, 2, 3, 1], data: v.subarray(0, 12) },
    { name: 'norm.bias', dtype: 'F16', shape: [5], data: v.subarray(12, 17) },
    { name: 'emb', dtype: 'BF16', shape: [3, 2], data: v.subarray(17, 23) },
    { name: 'ids', dtype: 'I64', shape: [2], data: [1n, 2n] },
    { name: 'scalar', dtype: 'F64', shape: [], data: [0.5] },
    { name: 'empty', dtype: 'F32', shape: [4, 0], data: [] },
  ], { format: 'pt' });
}

function withHeader(header: unknown, dataBytes: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(dataBytes, 8 + json.length);
  return out;
}

const NASTY: unknown[] = [
  -1, -0, 0.5, 1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 64, Number.MAX_SAFE_INTEGER, 4294967296, 1e-300, '12', '', null, true,
  [], [1], [1, 2, 3], [-1, 4], [2 ** 53, 2 ** 53], [2 ** 26, 2 ** 27], [0.5, 2], [[1], 2], {}, { a: 1 }, 'F32', 'f32', 'F16 ', 'U128',
  [4, 2], [0, 0], [0, 1e9], [1e9, 1e9 + 4], [99999999, 100000000],
];

/**
 * The safetensors rules (the reference implementation's, as docs/weights.md lists them), independent of the reader:
 * u64 LE header length N ≤ 100 MB with 8 + N ≤ file size; the header is UTF-8 JSON starting with `{`, an object;
 * `__metadata__` maps strings to strings; every other entry has a known dtype, a shape of ≤ 16 non-negative safe
 * integers, data_offsets [begin, end] of safe integers with begin ≤ end ≤ data size and end − begin = numel × dtype
 * size; non-empty ranges do not overlap. Sizes are multiplied in BigInt, so no overflow shortcut is shared.
 */
function validBySpec(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES) || n + 8n > BigInt(bytes.length)) return false;
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n)));
    if (!text.startsWith('{')) return false;
    header = JSON.parse(text);
  } catch { return false; }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(header)) return false;
  const dataSize = BigInt(bytes.length) - 8n - n;
  const ranges: [bigint, bigint][] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObj(e) || !Object.values(e).every((v) => typeof v === 'string')) return false;
      continue;
    }
    if (!isObj(e) || typeof e.dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, e.dtype)) return false;
    const isIndex = (d: unknown) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0;
    if (!Array.isArray(e.shape) || e.shape.length > 16 || !e.shape.every(isIndex)) return false;
    const o = e.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every(isIndex) || o[0] > o[1]) return false;
    const [begin, end] = [BigInt(o[0]), BigInt(o[1])];
    const bytesNeeded = (e.shape as number[]).reduce((a, d) => a * BigInt(d), 1n) * BigInt(DTYPE_SIZES[e.dtype as Dtype]);
    if (end > dataSize || end - begin !== bytesNeeded) return false;
    if (end > begin) ranges.push([begin, end]);
  }
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return ranges.every((r, i) => i === 0 || r[0] >= ranges[i - 1][1]);
}

/** Returns 'ok' or the error code, and checks that the verdict agrees with the format's rules. */
async function outcome(bytes: Uint8Array): Promise<string> {
  const src = guardedSource(bytes);
  let code = 'ok';
  try {
    const f = await openSafetensors(src);
    for (const [name, t] of f.tensors) {
      expect(t.byteOffset + t.byteLength).toBeLessThanOrEqual(bytes.length);
      try { await (t.dtype === 'I64' ? f.readRaw(name) : f.read(name)); } catch (e) {
        if (!(e instanceof WeightFileError)) throw e;
      }
    }
  } catch (e) {
    if (!(e instanceof WeightFileError)) throw new Error(`non-typed error ${String(e)} for input of ${bytes.length} bytes`);
    expect(e.message.startsWith('fuzz.safetensors: ')).toBe(true);
    code = e.code;
  }
  expect(src.violations).toEqual([]);
  if ((code === 'ok') !== validBySpec(bytes)) {
    throw new Error(`the reader says ${code}, the format's rules say ${validBySpec(bytes) ? 'valid' : 'invalid'}, for ${bytes.length} bytes starting ${Array.from(bytes.subarray(0, 12), (b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  }
  return code;
}

type RawTensor = { name: string; dtype: Dtype; shape: number[]; bytes: Uint8Array };

/** The JSON header of these tensors stored back to back, as UTF-8 bytes. */
function headerJson(tensors: RawTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  return new TextEncoder().encode(JSON.stringify(header));
}

/** A valid file whose JSON header is padded with spaces to exactly `headerLength` bytes. */
function fileWithHeaderLength(tensors: RawTensor[], headerLength: number, metadata?: Record<string, string>): Uint8Array {
  const json = headerJson(tensors, metadata);
  const offset = tensors.reduce((a, t) => a + t.bytes.length, 0);
  if (json.length > headerLength) throw new Error(`header of ${json.length} bytes does not fit in ${headerLength}`);
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, 8, 8 + headerLength);
  out.set(json, 8);
  let p = 8 + headerLength;
  for (const t of tensors) { out.set(t.bytes, p); p += t.bytes.length; }
  return out;
}

/** Random valid tensors: every dtype, scalars, empty dimensions, names and metadata with non-ASCII text. */
function randomTensors(r: () => number): { tensors: RawTensor[]; metadata?: Record<string, string> } {
  const dtypes = Object.keys(DTYPE_SIZES) as Dtype[];
  const tensors: RawTensor[] = [];
  const count = Math.floor(r() * 6);
  for (let i = 0; i < count; i++) {
    const dtype = dtypes[Math.floor(r() * dtypes.length)];
    const shape = Array.from({ length: Math.floor(r() * 4) }, () => Math.floor(r() * (r() < 0.1 ? 1 : 5)));
    const bytes = new Uint8Array(shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[dtype]);
    for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(r() * 256);
    tensors.push({ name: `blocks.${i}.${['weight', 'bias', 'δ', 'π/2', '{"x"}'][Math.floor(r() * 5)]}`, dtype, shape, bytes });
  }
  return { tensors, metadata: r() < 0.5 ? { format: 'pt', note: 'ünïcode ✓', empty: '' } : undefined };
}

describe('safetensors fuzz', () => {
  const base = baseFile();
  const headerLen = Number(new DataView(base.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + headerLen))) as Record<string, Record<string, unknown>>;
  const data = base.subarray(8 + headerLen);

  it('survives truncation at every byte', async () => {
    for (let n = 0; n < base.length; n++) await outcome(base.slice(0, n));
  });

  it('survives random byte flips in the length field, header and data', async () => {
    const r = rng(12345);
    for (let iter = 0; iter < 10000; iter++) {
      const b = base.slice();
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) {
        const region = r();
        const pos = region < 0.15 ? Math.floor(r() * 8) : region < 0.9 ? 8 + Math.floor(r() * headerLen) : Math.floor(r() * b.length);
        b[pos] = r() < 0.5 ? b[pos] ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
      }
      await outcome(r() < 0.2 ? b.slice(0, Math.floor(r() * b.length)) : b);
    }
  });

  it('survives structurally mutated headers (dtypes, shapes, offsets, metadata, lengths)', async () => {
    const r = rng(777);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const seen = new Set<string>();
    const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
    for (let iter = 0; iter < 10000; iter++) {
      const h = JSON.parse(JSON.stringify(header)) as Record<string, Record<string, unknown>>;
      const mutations = 1 + Math.floor(r() * 3);
      for (let k = 0; k < mutations; k++) {
        const name = pick(names);
        const e = h[name] as unknown;
        if (typeof e !== 'object' || e === null || Array.isArray(e)) continue; // replaced by a primitive earlier
        const kind = Math.floor(r() * 10);
        if (kind === 0) h[name].dtype = pick(['F32', 'F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'X', 7, null]);
        else if (kind === 1) h[name].shape = pick(NASTY);
        else if (kind === 2) (h[name].shape as unknown[])?.splice?.(Math.floor(r() * 3), 0, pick(NASTY));
        else if (kind === 3) h[name].data_offsets = pick(NASTY);
        else if (kind === 4) h[name].data_offsets = (h[pick(names)] as Record<string, unknown> | null)?.data_offsets; // overlap / duplicate
        else if (kind === 5 && Array.isArray(h[name].data_offsets)) (h[name].data_offsets as unknown[])[Math.floor(r() * 2)] = pick(NASTY);
        else if (kind === 6) h.__metadata__ = pick([{ a: 'b' }, { a: 1 }, [], 'x', null, { a: { b: 'c' } }]) as Record<string, unknown>;
        else if (kind === 7) h[name] = pick(NASTY) as Record<string, unknown>;
        else if (kind === 8) h[name] = { ...h[pick(names)] }; // same range twice → overlap
        else delete h[name].shape;
      }
      const lengthOverride = r() < 0.1 ? pick([0n, 1n, 7n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n, BigInt(base.length)]) : undefined;
      const d = r() < 0.2 ? data.slice(0, Math.floor(r() * data.length)) : data;
      seen.add(await outcome(withHeader(h, d, lengthOverride)));
    }
    // The mutations reach every validation rule (a fuzzer that only ever hits one check proves little).
    for (const code of ['ok', 'truncated', 'header-too-large', 'bad-json', 'bad-dtype', 'bad-shape', 'bad-offsets', 'overlap', 'size-mismatch']) {
      expect(seen).toContain(code);
    }
  });

  it('accepts valid files whose header length bytes look like a pickle opcode (640, 896, 1152, 1408 + k·65536)', async () => {
    // A header of 640 bytes is stored as 80 02 00 00 00 00 00 00: the first two bytes of a protocol-2 pickle.
    const r = rng(4242);
    for (const base of [640, 896, 1152, 1408]) {
      for (const k of [0, 1, 2, 0x28, 0x7d, 0x8a, 0x95]) {
        const { tensors, metadata } = randomTensors(r);
        const bytes = fileWithHeaderLength(tensors, base + k * 65536, metadata);
        expect(bytes[0]).toBe(0x80);
        expect(await outcome(bytes)).toBe('ok');
        const f = await openSafetensors(guardedSource(bytes));
        for (const t of tensors) expect(await f.readRaw(t.name)).toEqual(t.bytes);
      }
    }
  });

  it('accepts random valid files of every header length up to 4 KB and reads back their exact bytes', async () => {
    const r = rng(31337);
    for (let iter = 0; iter < 2000; iter++) {
      const { tensors, metadata } = randomTensors(r);
      const jsonLength = headerJson(tensors, metadata).length;
      const bytes = fileWithHeaderLength(tensors, jsonLength + Math.floor(r() * (4096 - jsonLength)), metadata);
      expect(await outcome(bytes)).toBe('ok');
      const f = await openSafetensors(guardedSource(bytes));
      expect([...f.tensors.keys()]).toEqual(tensors.map((t) => t.name));
      for (const t of tensors) {
        expect(f.tensors.get(t.name)!.shape).toEqual(t.shape);
        expect(await f.readRaw(t.name)).toEqual(t.bytes);
      }
    }
  });

  it('survives random bytes', async () => {
    const r = rng(99);
    for (let iter = 0; iter < 3000; iter++) {
      const n = Math.floor(r() * 200);
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
      if (n >= 8 && r() < 0.5) new DataView(b.buffer).setBigUint64(0, BigInt(Math.floor(r() * n)), true);
      await outcome(b);
    }
  });
});
