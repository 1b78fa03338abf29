// Normalisation and GEGLU benchmark cases: GroupNorm + SiLU (per frame and pooled over 16 frames) against the
// plain one-workgroup-per-group kernel, LayerNorm over transformer tokens, and the GEGLU epilogue.
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import { geglu } from '../../src/ops/elementwise';
import { groupNorm, groupNormPlain } from '../../src/ops/groupnorm';
import { layerNorm } from '../../src/ops/layernorm';
import type { BenchCase, CaseFactory } from '../harness';

/** Deterministic O(1) data without the test helpers (bench/ does not import tests/). */
function noise(n: number, seed: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = offset + (s / 4294967296 - 0.5) * 3.46; // uniform, unit variance
  }
  return out;
}

const bpe = (e: Engine) => (e.dtype === 'f16' ? 2 : 4);

function groupNormCase(e: Engine, N: number, hw: number, C: number, framesPerGroup: number, note: string): BenchCase {
  const x = e.upload(noise(N * hw * hw * C, 1, 0.5), [N, hw, hw, C]);
  const gamma = e.upload(noise(C, 2, 1), [C]), beta = e.upload(noise(C, 3), [C]);
  const opts = { groups: 32, eps: 1e-5, act: 'silu' as const, framesPerGroup };
  const pooled = framesPerGroup > 1;
  return {
    name: pooled ? `groupnorm+silu pooled over ${framesPerGroup} frames (v1 ResNet / diffusers motion module)` : 'groupnorm+silu per frame (ResNet)',
    shape: `[${N},${hw},${hw},${C}] groups=32${note}`,
    bytes: 3 * x.size * bpe(e), // stats pass reads x, normalise pass reads x and writes out
    run: () => { groupNorm(e, x, gamma, beta, opts).release(); },
    plain: { name: 'one workgroup per (sample, group), 3 passes', run: () => { groupNormPlain(e, x, gamma, beta, opts).release(); } },
    dispose: () => { for (const t of [x, gamma, beta]) t.release(); },
  };
}

function layerNormCase(e: Engine, rows: number, C: number, note: string): BenchCase {
  const x = e.upload(noise(rows * C, 4), [rows, C]);
  const gamma = e.upload(noise(C, 5, 1), [C]), beta = e.upload(noise(C, 6), [C]);
  return {
    name: 'layernorm (transformer / motion-module tokens)',
    shape: `[${rows},${C}]${note}`,
    bytes: 2 * x.size * bpe(e), // read once from memory (the row's re-reads hit cache), write once
    run: () => { layerNorm(e, x, gamma, beta, 1e-5).release(); },
    dispose: () => { for (const t of [x, gamma, beta]) t.release(); },
  };
}

function gegluCase(e: Engine, rows: number, D: number, note: string): BenchCase {
  const x: Tensor = e.upload(noise(rows * 2 * D, 7), [rows, 2 * D]);
  return {
    name: 'geglu (feed-forward epilogue)',
    shape: `[${rows},${2 * D}] → [${rows},${D}]${note}`,
    bytes: 3 * rows * D * bpe(e), // read value and gate, write out
    run: () => { geglu(e, x).release(); },
    dispose: () => x.release(),
  };
}

export const cases: CaseFactory = (e, { full }) => {
  // SD1.5 at 512², 16 frames: the 64×64×320 level. Software adapters get 16×16 latents (1/16 of the work).
  const hw = full ? 64 : 16;
  const note = full ? '' : ' (scaled down: 64×64 → 16×16 latent)';
  const tokens = 16 * hw * hw;
  return [
    groupNormCase(e, 16, hw, 320, 1, note),
    groupNormCase(e, 16, hw, 320, 16, note),
    layerNormCase(e, tokens, 320, note),
    // One frame's feed-forward (C=320, inner 4C=1280): 16 frames × 64×64 at once would exceed the 128 MiB binding.
    gegluCase(e, hw * hw, 1280, note),
  ];
};
