// The row-tile building blocks against float64 references (whole images): GroupNorm statistics merged over row
// tiles (ops/groupnorm.ts groupNormRowTiles), and 3×3 convs of tiles with halo rows and per-side padding
// (models/row-tiles.ts convRows, ops/conv2d.ts `padding: { top, bottom, x }`), in f32 and f16, with tiles of 1 row
// and uneven tiles, on 2 frames at an odd size.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/engine';
import { fromF16Array, toF16Array } from '../src/gpu/half';
import { prepareConv2d, releaseWeight } from '../src/ops/weights';
import { assembleRows, convRows, groupNormRows, RowTiles, uploadRowTiles } from '../src/models/row-tiles';
import { cannotRun, testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';
import { conv2dRef } from './ref/gemm';
import { groupNormRef } from './ref/norms';

const stored = (e: Engine, v: Float32Array): Float32Array => (e.dtype === 'f16' ? fromF16Array(toF16Array(v)) : v);
// f32: one rounding per output, O(1) values; f16: outputs stored in f16 (2^-11 relative) from f16 inputs.
const TOL = { f32: 2e-5, f16: 4e-3 } as const;

async function readWhole(e: Engine, t: RowTiles): Promise<Float32Array> {
  const whole = assembleRows(e, t);
  try {
    return await e.read(whole);
  } finally {
    whole.release();
  }
}

describe('row tiles', () => {
  const [N, H, W, C, G] = [2, 7, 5, 12, 3];
  for (const dtype of ['f32', 'f16'] as const) {
    for (const rows of [[1, 1, 1, 1, 1, 1, 1], [3, 4], [2, 2, 2, 1]]) {
      it.skipIf(cannotRun(dtype))(`${dtype}, tiles of ${rows.join('+')} rows: GroupNorm of the whole image, 3×3 conv with halos`, async () => {
        const e = await testEngine(dtype);
        const x = stored(e, randn(N * H * W * C, 11).map((v) => v + 3)); // a mean offset: statistics must be merged, not averaged
        const gamma = stored(e, randn(C, 12).map((v) => 1 + 0.2 * v));
        const beta = stored(e, randn(C, 13, 0.2));
        const tiles = uploadRowTiles(e, x, [N, H, W, C], rows);
        const gt = e.upload(gamma, [C]), bt = e.upload(beta, [C]);
        const normed = groupNormRows(e, tiles, { gamma: gt, beta: bt }, { groups: G, eps: 1e-6, act: 'silu' });
        const gnRef = groupNormRef(x, N, C, gamma, beta, G, 1e-6, 1, 'silu');
        const gn = maxAbsDiff(await readWhole(e, normed), gnRef);
        expect(gn.maxAbs, `GroupNorm: ${gn.maxAbs}`).toBeLessThanOrEqual(TOL[dtype] * Math.max(1, gn.refMax));

        const Co = 6;
        const w = stored(e, randn(Co * C * 9, 14, 1 / Math.sqrt(9 * C)));
        const b = stored(e, randn(Co, 15, 0.1));
        const res = stored(e, randn(N * H * W * Co, 16));
        const conv = prepareConv2d(e, w, [Co, C, 3, 3], b);
        const resTiles = uploadRowTiles(e, res, [N, H, W, Co], rows);
        const out = convRows(e, tiles, conv, { residual: resTiles });
        const { out: convRef } = conv2dRef(x, w, N, H, W, C, Co, 3, 3, 1, 1, { bias: b, residual: res });
        const cv = maxAbsDiff(await readWhole(e, out), convRef);
        expect(cv.maxAbs, `conv: ${cv.maxAbs}`).toBeLessThanOrEqual(TOL[dtype] * Math.max(1, cv.refMax));
        for (const t of [tiles, normed, resTiles, out]) t.release();
        gt.release();
        bt.release();
        releaseWeight(conv);
      });
    }
  }
});
