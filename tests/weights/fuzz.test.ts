// Fuzzing the safetensors reader: tens of thousands of mutated/truncated files. Every outcome must be either a
// parsed file whose tensors all lie inside the file, or a WeightFileError; never another exception, never a hang,
// never a read outside the file or one larger than the file (which would be the allocation a bad length causes).
import { describe, expect, it } from 'vitest';
import { WeightFileError } from '../../src/weights/errors';
import { openSafetensors, writeSafetensors } from '../../src/weights/safetensors';
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

/** Returns 'ok' or the error code. */
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
  return code;
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
