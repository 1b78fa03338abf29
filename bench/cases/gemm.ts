// GEMM benchmark cases: the UNet's linear layers and convs (its main cost), each against the plain
// one-thread-per-output kernel doing the same work. `full` uses SD1.5 shapes per frame (64x64 latent
// = 4096 tokens at the first level); otherwise shapes are scaled down for software adapters.
import type { BenchCase, CaseFactory } from '../harness';
import type { Engine } from '../../src/gpu/engine';
import { bytesPerElement } from '../../src/gpu/tensor';
import { conv2d, conv2dNaive } from '../../src/ops/conv2d';
import { linear, linearNaive } from '../../src/ops/linear';
import { prepareConv2d, prepareLinear, releaseWeight } from '../../src/ops/weights';

/** Deterministic values in [-1, 1) (a hash, not a quality RNG: data only needs to be finite and varied). */
function data(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const SCALED = ' (scaled down: software adapter)';

function linearCase(e: Engine, name: string, M: number, K: number, N: number, full: boolean): BenchCase {
  const x = e.upload(data(M * K, 1), [M, K]);
  const w = prepareLinear(e, data(N * K, 2).map((v) => v / Math.sqrt(K)), [N, K], data(N, 3));
  return {
    name,
    shape: `M=${M} N=${N} K=${K}${full ? '' : SCALED}`,
    flops: 2 * M * N * K,
    bytes: (M * K + N * K + M * N) * bytesPerElement(e.dtype),
    run: () => { linear(e, x, w).release(); },
    plain: { name: 'linearNaive', run: () => { linearNaive(e, x, w).release(); } },
    dispose: () => { x.release(); releaseWeight(w); },
  };
}

function convCase(e: Engine, name: string, H: number, W: number, Cin: number, Cout: number, full: boolean): BenchCase {
  const x = e.upload(data(H * W * Cin, 4), [1, H, W, Cin]);
  const w = prepareConv2d(e, data(Cout * Cin * 9, 5).map((v) => v / Math.sqrt(9 * Cin)), [Cout, Cin, 3, 3], data(Cout, 6));
  const M = H * W, K = 9 * Cin;
  return {
    name,
    shape: `${H}x${W}x${Cin}->${Cout} 3x3 s1 p1: M=${M} N=${Cout} K=${K}${full ? '' : SCALED}`,
    flops: 2 * M * Cout * K,
    bytes: (H * W * Cin + Cout * K + M * Cout) * bytesPerElement(e.dtype),
    run: () => { conv2d(e, x, w, { stride: 1, padding: 1 }).release(); },
    plain: { name: 'conv2dNaive', run: () => { conv2dNaive(e, x, w, { stride: 1, padding: 1 }).release(); } },
    dispose: () => { x.release(); releaseWeight(w); },
  };
}

export const cases: CaseFactory = (e, { full }) =>
  full
    ? [
      linearCase(e, 'linear (attn proj, level 0)', 4096, 320, 320, true),
      linearCase(e, 'linear (GEGLU in, level 0)', 4096, 320, 2560, true),
      convCase(e, 'conv2d 3x3 (level 0)', 64, 64, 320, 320, true),
      convCase(e, 'conv2d 3x3 (level 3)', 8, 8, 1280, 1280, true),
    ]
    : [
      linearCase(e, 'linear (attn proj, level 0)', 512, 320, 320, false),
      linearCase(e, 'linear (GEGLU in, level 0)', 128, 320, 2560, false),
      convCase(e, 'conv2d 3x3 (level 0)', 16, 12, 320, 320, false),
      convCase(e, 'conv2d 3x3 (level 3)', 8, 8, 320, 320, false),
    ];
