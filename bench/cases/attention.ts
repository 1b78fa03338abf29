// Attention benchmark cases: spatial self-attention, cross-attention to the 77 text tokens, and the
// fused temporal attention of the motion module, each against its plain (materialised-scores) version.
import { attention, attentionNaive } from '../../src/ops/attention';
import { temporalAttention, temporalAttentionNaive } from '../../src/ops/temporal-attention';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import type { BenchCase, CaseFactory } from '../harness';
import { noise } from '../noise';

const bytesOf = (e: Engine) => (e.dtype === 'f16' ? 2 : 4);

function spatial(e: Engine, name: string, b: number, nq: number, nk: number, c: number, heads: number, note: string): BenchCase {
  const q = e.upload(noise(b * nq * c, 1), [b, nq, c]);
  const k = e.upload(noise(b * nk * c, 2), [b, nk, c]);
  const v = e.upload(noise(b * nk * c, 3), [b, nk, c]);
  const once = (f: typeof attention) => () => { f(e, q, k, v, { heads }).release(); };
  return {
    name,
    shape: `B=${b} Nq=${nq} Nk=${nk} heads=${heads}×${c / heads}${note}`,
    flops: 4 * b * nq * nk * c, // QKᵀ and PV: 2 flops per MAC each
    run: once(attention),
    plain: { name: 'scores+softmax+PV (3 kernels)', run: once(attentionNaive) },
    dispose: () => { for (const t of [q, k, v]) t.release(); },
  };
}

function temporal(e: Engine, b: number, f: number, h: number, w: number, c: number, heads: number): BenchCase {
  const p = h * w;
  const qkv: Tensor = e.upload(noise(b * f * p * 3 * c, 4), [b * f, p, 3 * c]);
  const once = (fn: typeof temporalAttention) => () => { fn(e, qkv, { frames: f, heads }).release(); };
  return {
    name: 'temporal attention (motion module)',
    shape: `B=${b} F=${f} P=${h}×${w} C=${c} heads=${heads}`,
    flops: 4 * b * p * f * f * c,
    bytes: b * f * p * 4 * c * bytesOf(e), // read q, k, v once, write out once
    run: once(temporalAttention),
    plain: { name: 'transpose + 3-kernel attention + transpose', run: once(temporalAttentionNaive) },
    dispose: () => qkv.release(),
  };
}

export const cases: CaseFactory = (e, { full }) => {
  // Software adapters run the spatial cases at 32×16 latents (512 tokens) instead of 64×64 so the
  // whole bench stays within a few minutes on two CPU cores.
  const n = full ? 4096 : 512;
  const note = full ? '' : ' (scaled down: 64×64 → 32×16 latent)';
  return [
    spatial(e, 'spatial self-attention', 1, n, n, 320, 8, note),
    spatial(e, 'cross-attention (77 text tokens)', 1, n, 77, 320, 8, note),
    // The motion module's attention at the size the issue measures, on every adapter: 16 frames at
    // 16×16 latents, C=320, CFG batch 2.
    temporal(e, 2, 16, 16, 16, 320, 8),
  ];
};
