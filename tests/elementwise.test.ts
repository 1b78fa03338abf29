// Elementwise, layout and timestep-embedding ops against float64 CPU references (tests/ref/elementwise.ts).
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { fromF16Array, toF16Array } from '../src/gpu/half';
import type { Activation } from '../src/ops/activation';
import { activation, axpby, concatChannels, geglu, scale, upsampleNearest, upsampleNearest2x } from '../src/ops/elementwise';
import { framesToVideo, nchwToNhwc, nhwcToNchw, permute, videoToFrames } from '../src/ops/layout';
import { timestepEmbedding } from '../src/ops/timestep';
import { cannotRun, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import {
  activationRef, axpbyRef, concatRef, gegluRef, nchwToNhwcRef, timestepEmbeddingRef, upsampleRef, upsampleToRef, videoToFramesRef,
} from './ref/elementwise';

const stored = (e: Engine, v: Float32Array): Float32Array => (e.dtype === 'f16' ? fromF16Array(toF16Array(v)) : v);

/** Worst ratio |got - ref| / (atol + rtol·|ref|); <= 1 passes. */
function worst(got: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number): number {
  expect(got.length).toBe(ref.length);
  let w = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = Math.abs(got[i] - ref[i]) / (atol + rtol * Math.abs(ref[i]));
    if (!(r <= w)) w = r;
  }
  return w;
}

/**
 * Tolerances for computed (not copied) values. f32: inputs O(1–3); erf/exp in f32 are good to a few ulp, so
 * 2e-6 abs + 2e-6 rel (an index bug moves values by O(1)). f16: the output is rounded to f16 (half-ulp 2^-11
 * relative) after f32 math on f16 inputs: 1e-3 abs + 1e-3 rel. Copies (layout, upsample, concat) must be exact.
 */
const TOL = { f32: { atol: 2e-6, rtol: 2e-6 }, f16: { atol: 1e-3, rtol: 1e-3 } } as const;
const N_ODD = 3 * 1000 + 7; // not a multiple of the 256-thread workgroup

for (const precision of ['f32', 'f16'] as const) {
  const engine = (): Promise<Engine> => testEngine(precision);
  const { atol, rtol } = TOL[precision];

  describe.skipIf(cannotRun(precision))(`elementwise (${precision})`, () => {
    for (const act of ['silu', 'gelu', 'quick_gelu', 'gelu_tanh', 'none'] as Activation[]) {
      it(`activation ${act}`, async () => {
        const e = await engine();
        const x = stored(e, randn(N_ODD, 1, 2));
        const t = e.upload(x, [31, 97]), out = activation(e, t, act);
        expect(out.shape).toEqual([31, 97]);
        expect(worst(await e.read(out), activationRef(x, act), atol, rtol)).toBeLessThanOrEqual(1);
        t.release(); out.release();
      });
    }

    it('scale and axpby (CFG combination)', async () => {
      const e = await engine();
      const x = stored(e, randn(N_ODD, 2)), y = stored(e, randn(N_ODD, 3));
      const tx = e.upload(x, [N_ODD]), ty = e.upload(y, [N_ODD]);
      const s = scale(e, tx, 0.18215), g = 7.5;
      const cfg = axpby(e, 1 - g, tx, g, ty);
      expect(worst(await e.read(s), activationRef(x, 'none', 0.18215), atol, rtol)).toBeLessThanOrEqual(1);
      // outputs up to ~30 here: the relative term dominates
      expect(worst(await e.read(cfg), axpbyRef(1 - g, x, g, y), atol, rtol)).toBeLessThanOrEqual(1);
      for (const t of [tx, ty, s, cfg]) t.release();
    });

    it('geglu: [value, gate] halves, rows=13, D=37', async () => {
      const e = await engine();
      const rows = 13, D = 37;
      const x = stored(e, randn(rows * 2 * D, 4, 1.5));
      const t = e.upload(x, [1, rows, 2 * D]), out = geglu(e, t);
      expect(out.shape).toEqual([1, rows, D]);
      expect(worst(await e.read(out), gegluRef(x, rows, D), atol, rtol)).toBeLessThanOrEqual(1);
      t.release(); out.release();
    });

    it('upsampleNearest2x [2, 3, 5, 7] (exact copy)', async () => {
      const e = await engine();
      const x = stored(e, randn(2 * 3 * 5 * 7, 5));
      const t = e.upload(x, [2, 3, 5, 7]), out = upsampleNearest2x(e, t);
      expect(out.shape).toEqual([2, 6, 10, 7]);
      expect(maxAbsDiff(await e.read(out), upsampleRef(x, 2, 3, 5, 7)).maxAbs).toBe(0);
      t.release(); out.release();
    });

    it('upsampleNearest to odd sizes (diffusers upsample_size): [2, 3, 5, 7] -> 5×9 and 6×9 (exact copy)', async () => {
      const e = await engine();
      const x = stored(e, randn(2 * 3 * 5 * 7, 15));
      const t = e.upload(x, [2, 3, 5, 7]);
      for (const [Ho, Wo] of [[5, 9], [6, 9], [7, 10]]) {
        const out = upsampleNearest(e, t, Ho, Wo);
        expect(out.shape).toEqual([2, Ho, Wo, 7]);
        expect(maxAbsDiff(await e.read(out), upsampleToRef(x, 2, 3, 5, 7, Ho, Wo)).maxAbs, `${Ho}×${Wo}`).toBe(0);
        out.release();
      }
      t.release();
    });

    it('concatChannels a first, Ca=5 Cb=3 (exact copy)', async () => {
      const e = await engine();
      const a = stored(e, randn(2 * 3 * 4 * 5, 6)), b = stored(e, randn(2 * 3 * 4 * 3, 7));
      const ta = e.upload(a, [2, 3, 4, 5]), tb = e.upload(b, [2, 3, 4, 3]), out = concatChannels(e, ta, tb);
      expect(out.shape).toEqual([2, 3, 4, 8]);
      expect(maxAbsDiff(await e.read(out), concatRef(a, b, 24, 5, 3)).maxAbs).toBe(0);
      for (const t of [ta, tb, out]) t.release();
    });

    it('layout: NCHW <-> NHWC and video (b, c, f, h, w) <-> frames [b*f, h, w, c] (exact, round trips)', async () => {
      const e = await engine();
      const [N, C, H, W] = [2, 5, 3, 7];
      const x = stored(e, randn(N * C * H * W, 8));
      const t = e.upload(x, [N, C, H, W]);
      const nhwc = nchwToNhwc(e, t);
      expect(nhwc.shape).toEqual([N, H, W, C]);
      expect(maxAbsDiff(await e.read(nhwc), nchwToNhwcRef(x, N, C, H, W)).maxAbs).toBe(0);
      const back = nhwcToNchw(e, nhwc);
      expect(back.shape).toEqual([N, C, H, W]);
      expect(maxAbsDiff(await e.read(back), x).maxAbs).toBe(0);

      const [B, Cv, F, Hv, Wv] = [2, 3, 4, 5, 3];
      const v = stored(e, randn(B * Cv * F * Hv * Wv, 9));
      const tv = e.upload(v, [B, Cv, F, Hv, Wv]);
      const frames = videoToFrames(e, tv);
      expect(frames.shape).toEqual([B * F, Hv, Wv, Cv]);
      expect(maxAbsDiff(await e.read(frames), videoToFramesRef(v, B, Cv, F, Hv, Wv)).maxAbs).toBe(0);
      const video = framesToVideo(e, frames, B);
      expect(video.shape).toEqual([B, Cv, F, Hv, Wv]);
      expect(maxAbsDiff(await e.read(video), v).maxAbs).toBe(0);
      for (const r of [t, nhwc, back, tv, frames, video]) r.release();
    });
  });
}

describe('layout and elementwise errors', () => {
  it('rejects bad shapes with specific messages', async () => {
    const e = await testEngine('f32');
    const t = e.upload(new Float32Array(24), [2, 3, 4]);
    const u = e.upload(new Float32Array(24), [2, 4, 3]);
    expect(() => permute(e, t, [0, 0, 1])).toThrow(/not a permutation of the 3 dims/);
    expect(() => nchwToNhwc(e, t)).toThrow(/must be \[N, C, H, W\], got \[2,3,4\]/);
    expect(() => framesToVideo(e, t.reshape([4, 1, 2, 3]), 3)).toThrow(/4 frames are not divisible into b = 3/);
    expect(() => geglu(e, t.reshape([2, 3, 2, 2]).reshape([8, 3]))).toThrow(/must be even/);
    expect(() => concatChannels(e, t, u)).toThrow(/must match in every dim but the last/);
    expect(() => axpby(e, 1, t, 1, e.upload(new Float32Array(4), [4]))).toThrow(/same size and dtype/);
    t.release(); u.release();
  });
});

describe('timestepEmbedding (diffusers get_timestep_embedding)', () => {
  const ts = [0, 1, 501, 999];
  /**
   * Against the exact float64 formula. float32 (as diffusers computes it) rounds the exponent (|err| <= 9.2·2^-23
   * before exp, so freq is off by up to ~1.1e-6 relative) and the product t·freq, so the argument is off by up to
   * ~2e-7·t rad: 2e-4 at t = 999. Tolerance per row: 3e-7·t + 1e-6 (+1e-3 for f16 storage). A flip, shift or
   * padding bug is O(1) off.
   */
  const check = (got: Float32Array, ref: Float64Array, dim: number, f16: boolean) => {
    ts.forEach((t, b) => {
      const tol = 3e-7 * t + 1e-6 + (f16 ? 1e-3 : 0);
      expect(maxAbsDiff(got.subarray(b * dim, (b + 1) * dim), ref.subarray(b * dim, (b + 1) * dim)).maxAbs, `t=${t}`).toBeLessThanOrEqual(tol);
    });
  };

  for (const precision of ['f32', 'f16'] as const) {
    it.skipIf(cannotRun(precision))(`${precision}: dim 320, flip_sin_to_cos=True, shift 0 (SD1.5)`, async () => {
      const e = await testEngine(precision);
      const out = timestepEmbedding(e, ts, 320, { flipSinToCos: true, downscaleFreqShift: 0 });
      expect(out.shape).toEqual([4, 320]);
      const got = await e.read(out);
      check(got, timestepEmbeddingRef(ts, 320, true, 0), 320, precision === 'f16');
      expect(got[0]).toBe(1); // t = 0: cos(0) first
      expect(got[160]).toBe(0);
      out.release();
    });
  }

  it('odd dim 33, no flip, shift 1: [sin, cos, 0]', async () => {
    const e = await testEngine('f32');
    const out = timestepEmbedding(e, ts, 33, { flipSinToCos: false, downscaleFreqShift: 1 });
    const got = await e.read(out);
    check(got, timestepEmbeddingRef(ts, 33, false, 1), 33, false);
    for (let b = 0; b < ts.length; b++) expect(got[b * 33 + 32]).toBe(0);
    // shift matters: with shift 0 the t = 999 row is far off (the test could not pass with the wrong denominator)
    const wrong = timestepEmbeddingRef(ts, 33, false, 0);
    expect(maxAbsDiff(got.subarray(99, 132), wrong.subarray(99, 132)).maxAbs).toBeGreaterThan(0.01);
    out.release();
  });

  it('rejects bad arguments', async () => {
    const e = await testEngine('f32');
    expect(() => timestepEmbedding(e, [], 320, { flipSinToCos: true, downscaleFreqShift: 0 })).toThrow(/one finite timestep per batch row/);
    expect(() => timestepEmbedding(e, [1], 2, { flipSinToCos: true, downscaleFreqShift: 1 })).toThrow(/divides by zero/);
  });
});
