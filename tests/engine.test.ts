import { describe, expect, it } from 'vitest';
import { DeviceLostError, GpuValidationError } from '../src/gpu/errors';
import { f16BitsToF32, f32ToF16Bits } from '../src/gpu/half';
import { BufferPool } from '../src/gpu/pool';
import { add } from '../src/ops/add';
import { createNodeEngine } from '../src/platform/node-gpu';
import { F16, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';

describe('half conversion', () => {
  it('round-trips exactly representable values and rounds to nearest even', () => {
    for (const v of [0, -0, 1, -2, 0.5, 65504, -65504, 2 ** -24, 2 ** -14, 1 + 2 ** -10]) {
      expect(f16BitsToF32(f32ToF16Bits(v))).toBe(v);
    }
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11))).toBe(1); // tie -> even
    expect(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9); // tie -> even (up)
    expect(f16BitsToF32(f32ToF16Bits(1e6))).toBe(Infinity);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });
});

describe('buffer pool', () => {
  it('buckets sizes in quarter steps between powers of two (at most 25 % waste)', () => {
    expect(BufferPool.bucket(1)).toBe(256);
    expect(BufferPool.bucket(1000)).toBe(1024);
    expect(BufferPool.bucket(64 << 20)).toBe(64 << 20);
    expect(BufferPool.bucket((64 << 20) + 1)).toBe(80 << 20);
    expect(BufferPool.bucket(5_000_000)).toBe(5 << 20);
    expect(BufferPool.bucket(1537)).toBe(1792);
  });
});

describe('engine', () => {
  it('finds an adapter and runs a kernel (f32), reusing pooled buffers', async () => {
    const e = await testEngine('f32');
    const n = 1000 * 3 + 7;
    const a = randn(n, 1), b = randn(n, 2);
    const ta = e.upload(a, [n]), tb = e.upload(b, [n]);
    const out = add(e, ta, tb);
    const got = await e.read(out);
    const ref = a.map((v, i) => v + b[i]);
    expect(maxAbsDiff(got, ref).maxAbs).toBeLessThan(1e-6);
    const buf = out.buffer;
    out.release();
    const again = e.empty([n]);
    expect(again.buffer).toBe(buf);
    again.release();
    for (const t of [ta, tb]) t.release();
  });

  it.skipIf(!F16)('runs the same kernel in f16 where the adapter has shader-f16', async () => {
    const e = await testEngine('f16');
    expect(e.dtype).toBe('f16');
    const n = 4099;
    const a = randn(n, 3), b = randn(n, 4);
    const out = add(e, e.upload(a, [n]), e.upload(b, [n]));
    const got = await e.read(out);
    // f16 storage: |err| <= ulp(|a|+|b|) ~ 2^-10 relative, plus input rounding.
    const { maxAbs } = maxAbsDiff(got, a.map((v, i) => v + b[i]));
    expect(maxAbs).toBeLessThan(1e-2);
    expect(maxAbs).toBeGreaterThan(0); // really went through f16
  });

  it('folds large dispatches into a 2D grid', async () => {
    const e = await testEngine('f32');
    const [x, y] = e.grid(70000 * 256, 256);
    expect(x).toBeLessThanOrEqual(e.limits.maxComputeWorkgroupsPerDimension);
    expect(x * y * 256).toBeGreaterThanOrEqual(70000 * 256);
  });

  it('raises a typed validation error at the next sync and keeps working', async () => {
    const e = await testEngine('f32');
    const t = e.upload(new Float32Array(8), [8]);
    // A read-only storage binding used as read_write output is a validation error.
    const bad = e.device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM });
    e.dispatch({ kernel: { name: 'add', code: (await import('../shaders/add.wgsl?raw')).default }, bindings: [new ArrayBuffer(16), t, t, { buffer: bad }], workgroups: [1] });
    await expect(e.sync()).rejects.toBeInstanceOf(GpuValidationError);
    const ok = add(e, t, t);
    expect(Array.from(await e.read(ok))).toEqual(new Array(8).fill(0));
  });

  it('reports device loss as DeviceLostError and a new engine works', async () => {
    const e = await createNodeEngine({ precision: 'f32' });
    e.destroy();
    const err = await e.lost;
    expect(err).toBeInstanceOf(DeviceLostError);
    expect(() => e.empty([4])).toThrow(DeviceLostError);
    const fresh = await createNodeEngine({ precision: 'f32' });
    const t = fresh.upload(new Float32Array([1, 2, 3]), [3]);
    expect(Array.from(await fresh.read(add(fresh, t, t)))).toEqual([2, 4, 6]);
    fresh.destroy();
  });

  it('measures GPU time with timestamp queries when present', async () => {
    const e = await testEngine('f32');
    const t = e.upload(randn(1 << 16, 5), [1 << 16]);
    const r = await e.time(() => { add(e, t, t).release(); });
    expect(r.wallMs).toBeGreaterThan(0);
    if (e.features.timestampQuery) expect(r.gpuMs).not.toBeNull();
    t.release();
  });
});
