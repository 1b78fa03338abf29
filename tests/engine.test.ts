import { describe, expect, it } from 'vitest';
import { DeviceLostError, GpuValidationError, GpuWorkAbandonedError } from '../src/gpu/errors';
import type { Engine } from '../src/gpu/engine';
import type { Tensor } from '../src/gpu/tensor';
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

/** x[i] += shift, with `shift` a uniform: every dispatch binds different uniform bytes. */
const ADD_SHIFT = {
  name: 'test_add_shift',
  code: `
struct P { shift: f32, n: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < p.n) { x[g.x] = x[g.x] + p.shift; } }`,
};

function addShift(e: Engine, x: Tensor, shift: number): void {
  const p = new ArrayBuffer(16);
  new Float32Array(p, 0, 1)[0] = shift;
  new Uint32Array(p, 4, 1)[0] = x.size;
  e.dispatch({ kernel: ADD_SHIFT, bindings: [p, x], workgroups: [Math.ceil(x.size / 64)], dtype: 'f32' });
}

describe('engine flow control (a cancelled run stops within about a second of GPU work)', () => {
  it('queues only a little work ahead of the GPU, and keeps program order for uniforms and writes behind it', async () => {
    const e = await createNodeEngine({ precision: 'f32', dispatchesPerSubmit: 4 });
    try {
      const n = 1000;
      const x = e.upload(new Float32Array(n), [n]);
      const y = e.upload(new Float32Array(n).fill(7), [n]);
      await e.sync();
      const before = e.submitCount;
      // Recorded in one synchronous go, as a UNet step is: 1 + 2 + … + 200 on x; on y: +1 ×50, a write of 3s, +2 ×50.
      for (let k = 1; k <= 200; k++) {
        addShift(e, x, k);
        if (k <= 50) addShift(e, y, 1);
        if (k === 50) e.write(y, new Float32Array(n).fill(3));
        if (k > 50 && k <= 100) addShift(e, y, 2);
      }
      // Nothing completed while JS was busy: only the first submits went out, the rest waits in the backlog.
      expect(e.submitCount - before).toBeLessThanOrEqual(2);
      const gotX = await e.read(x);
      const gotY = await e.read(y);
      expect(new Set(gotX)).toEqual(new Set([(200 * 201) / 2]));
      expect(new Set(gotY)).toEqual(new Set([3 + 2 * 50])); // the write landed between the two series
      expect(e.submitCount - before).toBeGreaterThanOrEqual(250 / 4); // at most 4 dispatches per submit
    } finally {
      e.destroy();
    }
  });

  it('abandonQueued() drops the unsubmitted work: the waiting read fails as cancelled, and the engine keeps working', async () => {
    const e = await createNodeEngine({ precision: 'f32' });
    try {
      const n = 1 << 16;
      const x = e.upload(new Float32Array(n), [n]);
      await e.sync();
      const before = e.submitCount;
      for (let k = 0; k < 2000; k++) addShift(e, x, 1);
      const read = e.read(x);
      e.abandonQueued();
      const err = await read.then(() => null, (r: unknown) => r);
      expect(err).toBeInstanceOf(GpuWorkAbandonedError);
      expect((err as GpuWorkAbandonedError).kind).toBe('cancelled');
      // At most the first two submits of 4 dispatches ran, not the 2000 recorded.
      expect(e.submitCount - before).toBeLessThanOrEqual(2);
      const t = e.upload(new Float32Array([1, 2, 3]), [3]);
      expect(Array.from(await e.read(add(e, t, t)))).toEqual([2, 4, 6]);
    } finally {
      e.destroy();
    }
  });
});
