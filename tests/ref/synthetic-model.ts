// Full-size models with random weights, made in-process from the key/shape manifests of the real checkpoints
// (../shared/oracle/manifests): a safetensors file (real header, F16 data) exposed as a ByteSource whose data bytes
// are generated when the loader reads them, tensor by tensor, always the same bytes for the same tensor. It goes
// through the project's real reader and loaders; holding the 2.6 GB of an SD1.5 UNet + motion module as one
// buffer would only double the test's memory.
//
// Values (as the oracle's tiny models): linear/conv weights N(0, 1/fan_in), norm weights 1 + 0.1·N, biases
// 0.05·N, positional-encoding tables the exact sinusoids (pe[p, 2i] = sin(p·10000^(−2i/C)), pe[p, 2i+1] = cos).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { f32ToF16Bits } from '../../src/gpu/half';
import type { ByteSource } from '../../src/weights/source';
import { randn } from '../random';

export const MANIFESTS = path.resolve(__dirname, '../../../shared/oracle/manifests');

export interface Manifest {
  name: string;
  config?: Record<string, any>;
  tensors: Record<string, { shape: number[]; dtype: string }>;
}

export function readManifest(file: string): Manifest {
  return JSON.parse(readFileSync(path.join(MANIFESTS, file), 'utf8'));
}

/** 4096 standard normal values as f16 bits, scaled by σ (one table per distinct σ). */
const tables = new Map<number, Uint16Array>();
const NORMALS = randn(4096, 12345);
function table(sigma: number, mean = 0): Uint16Array {
  const key = sigma * 1e6 + mean;
  let t = tables.get(key);
  if (!t) {
    t = new Uint16Array(4096);
    for (let i = 0; i < 4096; i++) t[i] = f32ToF16Bits(mean + sigma * NORMALS[i]);
    tables.set(key, t);
  }
  return t;
}

function fill(name: string, shape: number[], seed: number): Uint16Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Uint16Array(n);
  if (name.endsWith('.pe')) {
    const [, P, C] = shape;
    for (let p = 0; p < P; p++) for (let i = 0; i < C; i += 2) {
      const a = p * Math.pow(10000, -i / C);
      out[p * C + i] = f32ToF16Bits(Math.sin(a));
      if (i + 1 < C) out[p * C + i + 1] = f32ToF16Bits(Math.cos(a));
    }
    return out;
  }
  const t = shape.length >= 2 ? table(1 / Math.sqrt(n / shape[0])) : /norm/.test(name) && name.endsWith('.weight') ? table(0.1, 1) : table(0.05);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift32
    out[i] = t[x >>> 20];
  }
  return out;
}

/** The manifests' tensors (later files win on a shared name) as one F16 safetensors file, data made on read. */
export function syntheticSafetensors(name: string, manifests: Manifest[], seed: number): ByteSource {
  const entries: { key: string; shape: number[]; begin: number; end: number; seed: number }[] = [];
  const header: Record<string, unknown> = {};
  let offset = 0;
  let i = 0;
  for (const m of manifests) {
    for (const [key, t] of Object.entries(m.tensors)) {
      const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
      header[key] = { dtype: 'F16', shape: t.shape, data_offsets: [offset, offset + bytes] };
      entries.push({ key, shape: t.shape, begin: offset, end: offset + bytes, seed: seed * 100003 + i++ });
      offset += bytes;
    }
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(8 + Math.ceil(json.length / 8) * 8).fill(0x20);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(headerBytes.length - 8), true);
  headerBytes.set(json, 8);
  const dataStart = headerBytes.length;
  return {
    name,
    size: dataStart + offset,
    async read(at: number, length: number): Promise<Uint8Array> {
      if (at < 0 || length < 0 || at + length > dataStart + offset) throw new RangeError(`${name}: read [${at}, ${at + length}) outside the file`);
      const out = new Uint8Array(length);
      if (at < dataStart) out.set(headerBytes.subarray(at, Math.min(dataStart, at + length)));
      const lo = Math.max(at, dataStart) - dataStart, hi = at + length - dataStart;
      for (const e of entries) {
        if (e.end <= lo || e.begin >= hi) continue;
        const bytes = new Uint8Array(fill(e.key, e.shape, e.seed).buffer);
        const from = Math.max(lo, e.begin), to = Math.min(hi, e.end);
        out.set(bytes.subarray(from - e.begin, to - e.begin), from + dataStart - at);
      }
      return out;
    },
  };
}
