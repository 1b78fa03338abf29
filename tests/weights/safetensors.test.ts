import { describe, expect, it } from 'vitest';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { WeightFileError } from '../../src/weights/errors';
import { checkModelFileHead, openSafetensors, openSafetensorsBytes, SNIFF_BYTES, writeSafetensors } from '../../src/weights/safetensors';
import { f16BitsToF32 } from '../../src/gpu/half';
import { randn } from '../random';
import { VECTORS } from '../oracle';

const ORACLE = VECTORS;

function rawFile(header: unknown, dataBytes: number, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { if (e instanceof WeightFileError) return e.code; throw e; }
  return 'ok';
}

describe('safetensors', () => {
  it('round-trips every floating dtype and keeps integers raw', async () => {
    const vals = randn(37, 1);
    const bytes = writeSafetensors([
      { name: 'a', dtype: 'F32', shape: [37], data: vals },
      { name: 'b', dtype: 'F16', shape: [1, 37], data: vals },
      { name: 'c', dtype: 'BF16', shape: [37, 1], data: vals },
      { name: 'd', dtype: 'F64', shape: [37], data: vals },
      { name: 'ids', dtype: 'I64', shape: [3], data: [1n, -2n, 49407n] },
      { name: 'empty', dtype: 'F32', shape: [0, 5], data: [] },
    ], { format: 'pt' });
    const f = await openSafetensorsBytes(bytes, 'x.safetensors');
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.get('b')!.shape).toEqual([1, 37]);
    expect(Array.from(await f.read('a'))).toEqual(Array.from(vals));
    expect(Array.from(await f.read('d'))).toEqual(Array.from(vals));
    const h = await f.read('b'), bf = await f.read('c');
    for (let i = 0; i < 37; i++) {
      // f16: 11-bit significand → relative error ≤ 2^-11; bf16: 8-bit → ≤ 2^-8 (round to nearest).
      expect(Math.abs(h[i] - vals[i])).toBeLessThanOrEqual(Math.abs(vals[i]) * 2 ** -11 + 6e-8);
      expect(Math.abs(bf[i] - vals[i])).toBeLessThanOrEqual(Math.abs(vals[i]) * 2 ** -8);
    }
    const raw = await f.readRaw('ids');
    expect(Array.from(new BigInt64Array(raw.slice().buffer))).toEqual([1n, -2n, 49407n]);
    expect(await codeOf(f.read('ids'))).toBe('bad-dtype');
    expect((await f.read('empty')).length).toBe(0);
    expect(await codeOf(f.read('nope'))).toBe('missing-keys');
  });

  it('decodes f16 subnormals, infinities and NaN bit patterns', async () => {
    const bits = new Uint16Array([0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x3c00, 0xc000, 0x8000]);
    const f = await openSafetensorsBytes(writeSafetensors([{ name: 'h', dtype: 'F16', shape: [8], data: new Uint8Array(bits.buffer), raw: true }]));
    const got = await f.read('h');
    bits.forEach((b, i) => expect(Object.is(got[i], Math.fround(f16BitsToF32(b))) || (Number.isNaN(got[i]) && Number.isNaN(f16BitsToF32(b)))).toBe(true));
  });

  it('reads the oracle files (python safetensors) from disk', async () => {
    const src = await openNodeFileSource(`${ORACLE}/motion_module/vA/weights_diffusers.safetensors`);
    try {
      const f = await openSafetensors(src);
      expect(f.tensors.size).toBe(48);
      const pe = await f.read('transformer_blocks.0.pos_embed.pe');
      expect(f.tensors.get('transformer_blocks.0.pos_embed.pe')!.shape).toEqual([1, 32, 64]);
      // pe[p, 2i+1] = cos(p·10000^(-2i/C)): row 1, column 1 = cos(1)
      expect(pe[64 + 1]).toBeCloseTo(Math.cos(1), 6);
    } finally { await src.close(); }
  });

  it('rejects malformed headers with typed errors', async () => {
    const ok = { t: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
    expect(await codeOf(openSafetensorsBytes(rawFile(ok, 16)))).toBe('ok');
    expect(await codeOf(openSafetensorsBytes(new Uint8Array(5)))).toBe('truncated');
    expect(await codeOf(openSafetensorsBytes(rawFile(ok, 16, 2n ** 40n)))).toBe('header-too-large');
    expect(await codeOf(openSafetensorsBytes(rawFile(ok, 16, 1000n)))).toBe('truncated');
    expect(await codeOf(openSafetensorsBytes(rawFile('{"t": [', 16)))).toBe('bad-json');
    expect(await codeOf(openSafetensorsBytes(rawFile('[1,2]', 16)))).toBe('bad-json');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, dtype: 'F17' } }, 16)))).toBe('bad-dtype');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, shape: [2, -2] } }, 16)))).toBe('bad-shape');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, shape: [2, 2.5] } }, 16)))).toBe('bad-shape');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, shape: [2 ** 53, 2 ** 53] } }, 16)))).toBe('bad-shape');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, shape: [2 ** 52, 2 ** 52] } }, 16)))).toBe('size-mismatch');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, shape: [3, 2] } }, 16)))).toBe('size-mismatch');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, data_offsets: [8, 4] } }, 16)))).toBe('bad-offsets');
    expect(await codeOf(openSafetensorsBytes(rawFile({ t: { ...ok.t, data_offsets: [0, 32] } }, 16)))).toBe('truncated');
    expect(await codeOf(openSafetensorsBytes(rawFile({ ...ok, u: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16)))).toBe('overlap');
    expect(await codeOf(openSafetensorsBytes(rawFile({ ...ok, __metadata__: { a: 1 } }, 16)))).toBe('bad-json');
  });

  it('refuses PyTorch pickles with an explanation', async () => {
    for (const magic of [[0x50, 0x4b, 0x03, 0x04], [0x80, 0x02, 0x8a, 0x0a], [0x80, 0x04, 0x95, 0]]) {
      const b = new Uint8Array(64); b.set(magic);
      const p = openSafetensorsBytes(b, 'mm_sd_v15_v2.ckpt');
      await expect(p).rejects.toMatchObject({ code: 'pickle' });
      await expect(p).rejects.toThrow(/mm_sd_v15_v2\.ckpt: .*PyTorch pickle.*can run code.*safetensors/);
    }
  });

  it('tells a .ckpt of unknown content that it is not a format read here, not that it is corrupt', async () => {
    const b = new Uint8Array(256);
    for (let i = 0; i < b.length; i++) b[i] = (i * 151 + 7) & 0xff; // neither safetensors nor a pickle
    for (const name of ['x.ckpt', 'model.PT', 'pytorch_model.bin']) {
      const p = openSafetensorsBytes(b, name);
      await expect(p).rejects.toMatchObject({ code: 'not-safetensors' });
      await expect(p).rejects.toThrow(/neither a safetensors file nor .*pickle.*only reads \.safetensors/);
    }
    // The same bytes named .safetensors are a corrupt safetensors file.
    expect(await codeOf(openSafetensorsBytes(b, 'x.safetensors'))).not.toBe('not-safetensors');
    // A real safetensors file is read whatever its name says.
    expect(await codeOf(openSafetensorsBytes(writeSafetensors([{ name: 't', dtype: 'F32', shape: [1], data: [1] }]), 'renamed.ckpt'))).toBe('ok');
  });

  it('judges a dropped file from its name and first bytes alone (checkModelFileHead), as opening it would', () => {
    const zip = new Uint8Array(16); zip.set([0x50, 0x4b, 0x03, 0x04, 0x14, 0]);
    expect(() => checkModelFileHead('model.ckpt', zip)).toThrow(expect.objectContaining({ code: 'pickle' }));
    expect(() => checkModelFileHead('x.ckpt', new Uint8Array(16).fill(7))).toThrow(expect.objectContaining({ code: 'not-safetensors' }));
    const valid = writeSafetensors([{ name: 't', dtype: 'F32', shape: [1], data: [1] }]).subarray(0, SNIFF_BYTES);
    expect(() => checkModelFileHead('renamed.ckpt', valid)).not.toThrow();
    expect(() => checkModelFileHead('model.safetensors', new Uint8Array(16).fill(7))).not.toThrow(); // judged when opened
  });

  it('requires the JSON header to begin with "{", as the reference implementation does', async () => {
    expect(await codeOf(openSafetensorsBytes(rawFile(' {"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4)))).toBe('bad-json');
  });

  it('gives a short typed error for deeply nested or huge header values, wherever they sit', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const t = (field: string, v: string) => `{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "${field}": 0, ${v}}}`;
    const cases: [string, string][] = [
      [`{"t": ${deep(20000)}}`, 'bad-json'],
      [`{"t": {"dtype": ${deep(20000)}, "shape": [1], "data_offsets": [0, 4]}}`, 'bad-dtype'],
      [`{"t": {"dtype": "F32", "shape": ${deep(20000)}, "data_offsets": [0, 4]}}`, 'bad-shape'],
      [`{"t": {"dtype": "F32", "shape": [1], "data_offsets": ${deep(20000)}}}`, 'bad-offsets'],
      [`{"__metadata__": ${deep(20000)}}`, 'bad-json'],
      [`{"__metadata__": {"a": ${deep(20000)}}}`, 'bad-json'],
      [`{"t": {"dtype": "F32", "shape": [${'1,'.repeat(200000)}1], "data_offsets": [0, 4]}}`, 'bad-shape'],
      [`{"${'x'.repeat(1_000_000)}": [1]}`, 'bad-json'],
      [`{"__metadata__": {"${'k'.repeat(1_000_000)}": 1}}`, 'bad-json'],
      [t('extra', `"${'v'.repeat(10)}": ${deep(20000)}`), 'ok'],
    ];
    for (const [header, code] of cases) {
      const p = openSafetensorsBytes(rawFile(header, 4), 'nested.safetensors');
      if (code === 'ok') { await p; continue; }
      const e = await p.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(WeightFileError);
      expect((e as WeightFileError).code).toBe(code);
      expect((e as WeightFileError).message.length).toBeLessThan(400);
    }
  });

  it('names the file, the expectation and the finding in messages', async () => {
    const p = openSafetensorsBytes(rawFile({ 'w.x': { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } }, 32), 'model.safetensors');
    await expect(p).rejects.toThrow(/^model\.safetensors: tensor "w\.x": shape \[3,2\] × F32 = 24 bytes, but data_offsets \[0, 16\] hold 16$/);
  });
});
