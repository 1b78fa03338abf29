// UNetMotion vs the oracle (unet_motion_tiny/vA: diffusers UNetMotionModel.from_unet2d(UNet2DConditionModel,
// MotionAdapter) with random weights; SD1.5 topology scaled down, v2-class with a mid-block motion module;
// 2 samples × 16 frames of 16×16 latents; calls t501 = [501, 501] and t_mixed = [981, 1]).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTensorFile, type RefTensor } from '../../src/conformance/tensor-file';
import type { Tensor } from '../../src/gpu/tensor';
import { hyperParamsFromDiffusers, inferUNetTopology, type Semantics, widestActivation } from '../../src/models/config';
import { levelWidths, planUNetChunking } from '../../src/plan/chunking';
import { weightMap, type WeightMap } from '../../src/weights/weight-map';
import { UNetMotion } from '../../src/models/unet';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { loadWeights } from '../../src/weights/load';
import { openSafetensors } from '../../src/weights/safetensors';
import { F16, testEngine } from '../gpu';
import { maxAbsDiff } from '../random';

const DIR = path.resolve(__dirname, '../../../shared/oracle/vectors/unet_motion_tiny/vA');
const config = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const inputs = parseTensorFile(readFileSync(path.join(DIR, 'inputs.safetensors')), 'inputs');
const outputs = parseTensorFile(readFileSync(path.join(DIR, 'outputs.safetensors')), 'outputs');

const LAYOUTS = {
  diffusers: ['unet_diffusers.safetensors', 'motion_adapter_diffusers.safetensors'],
  'ldm+original': ['unet_ldm.safetensors', 'motion_module_original.safetensors'],
} as const;

/** Weight files through the project's loader (src/weights): one canonical UNetMotionModel map, whatever the layout. */
async function canonical(files: readonly string[]): Promise<WeightMap> {
  const loaded = await loadWeights(await Promise.all(files.map(async (f) => openSafetensors(await openNodeFileSource(path.join(DIR, f))))));
  if (!loaded.unet) throw new Error(`${files.join(' + ')}: the loader found no UNet`);
  return loaded.unet;
}

/** (b, c, f, h, w) → [b*f, h, w, c] (frames folded into the batch frame-major, channels last). */
function videoToFramesNhwc(t: RefTensor): Float32Array {
  const [b, c, f, h, w] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < b; i++) for (let ch = 0; ch < c; ch++) for (let fr = 0; fr < f; fr++) for (let p = 0; p < h * w; p++) {
    out[((i * f + fr) * h * w + p) * c + ch] = t.data[(((i * c + ch) * f + fr) * h * w) + p];
  }
  return out;
}

/** (n, c, h, w) → [n, h, w, c]. */
function nchwToNhwc(t: RefTensor): Float32Array {
  const [n, c, h, w] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[(i * h * w + p) * c + ch] = t.data[(i * c + ch) * h * w + p];
  return out;
}

const absMax = (a: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i])); return m; };

const sample = inputs.get('sample')!;
const [B, , F, H, W] = sample.shape;
const text = inputs.get('encoder_hidden_states')!;
const calls = [...inputs.keys()].filter((k) => k.startsWith('timestep_')).map((k) => k.slice('timestep_'.length));
const hyper = hyperParamsFromDiffusers(config.unet_config, config.motion_adapter_config);

describe('UNetMotion hyper-parameters from diffusers configs', () => {
  it('takes heads (legacy attention_head_dim), groups, eps and the timestep sinusoid from unet_config', () => {
    expect(hyper).toMatchObject({
      heads: config.unet_config.attention_head_dim, normGroups: config.unet_config.norm_num_groups, normEps: config.unet_config.norm_eps,
      motionHeads: config.motion_adapter_config.motion_num_attention_heads, motionNormGroups: config.motion_adapter_config.motion_norm_num_groups,
      flipSinToCos: true, freqShift: 0,
    });
  });

  it('refuses architecture options it does not implement, naming them', () => {
    expect(() => hyperParamsFromDiffusers({ ...config.unet_config, resnet_time_scale_shift: 'scale_shift' })).toThrow(/resnet_time_scale_shift/);
    expect(() => hyperParamsFromDiffusers({ ...config.unet_config, time_cond_proj_dim: 256 })).toThrow(/time_cond_proj_dim/);
  });
});

describe('UNetMotion topology from weights', () => {
  it('reads channels, layer counts, attention and motion placement from the weight shapes', async () => {
    const topo = inferUNetTopology(await canonical(LAYOUTS.diffusers));
    const u = config.unet_config;
    expect(topo.down.map((d) => d.channels)).toEqual(u.block_out_channels);
    expect(topo.down.map((d) => d.attention)).toEqual(u.down_block_types.map((t: string) => t.startsWith('CrossAttn')));
    expect(topo.up.map((d) => d.attention)).toEqual(u.up_block_types.map((t: string) => t.startsWith('CrossAttn')));
    expect(topo.down.every((d) => d.layers === u.layers_per_block && d.motionModules === d.layers)).toBe(true);
    expect(topo.up.every((d) => d.layers === u.layers_per_block + 1 && d.motionModules === d.layers)).toBe(true);
    expect(topo.mid.motion).toBe(config.motion_adapter_config.use_motion_mid_block);
    expect(topo.crossAttentionDim).toBe(u.cross_attention_dim);
    expect(topo.timeProjDim).toBe(u.block_out_channels[0]);
    expect(topo.motionVersion).toBe('v2');
  });
});

/** One loaded UNet (f32, diffusers layout) and its uploaded inputs, shared by the tests below. */
let shared: Promise<{ unet: UNetMotion; lat: Tensor; txt: Tensor; before: number; loaded: number }> | null = null;
function loadShared() {
  shared ??= (async () => {
    const e = await testEngine('f32');
    const before = e.pool.stats().buffersInUse;
    const unet = await UNetMotion.load(e, await canonical(LAYOUTS.diffusers), hyper);
    const loaded = e.pool.stats().buffersInUse;
    const lat = e.upload(videoToFramesNhwc(sample), [B * F, H, W, 4]);
    const txt = e.upload(Float32Array.from(text.data), text.shape);
    return { unet, lat, txt, before, loaded };
  })();
  return shared;
}

/**
 * Run one call in one semantics; compare the output with its float64 reference at the oracle's f32 tolerance
 * (max(atol, rel·max|ref|), 20× PyTorch's own float32 error) and every stored intermediate of the call.
 */
async function checkCall(call: string, semantics: Semantics, model?: UNetMotion, maxTensorBytes?: number): Promise<void> {
  const e = await testEngine('f32');
  const { unet: sharedUnet, lat, txt } = await loadShared();
  const unet = model ?? sharedUnet;
  const suffix = semantics === 'diffusers' ? '' : '_official';
  const timesteps = Array.from(inputs.get(`timestep_${call}`)!.data);
  const pending: [string, Promise<Float32Array>][] = [];
  const onIntermediate = (block: string, t: Tensor) => {
    const key = block === 'time_embedding' ? `inter_${call}.${block}` : `inter_${call}${suffix}.${block}`;
    if (outputs.has(key)) pending.push([key, e.read(t)]);
  };
  const t0 = performance.now();
  const y = unet.forward(lat, timesteps, txt, F, maxTensorBytes ? { semantics, maxTensorBytes } : { semantics, onIntermediate });
  const got = await e.read(y);
  const ms = performance.now() - t0;
  y.release();
  // Intermediates (float32 references, batch element 0 = the first F rows): the README's single-module rule,
  // 2e-5 of the reference maximum (at least 1e-4); an indexing or pooling bug is off by O(0.1–1).
  for (const [key, p] of pending) {
    const ref = outputs.get(key)!;
    const refNhwc = ref.shape.length === 4 ? nchwToNhwc(ref) : Float32Array.from(ref.data);
    const { maxAbs } = maxAbsDiff((await p).subarray(0, refNhwc.length), refNhwc);
    console.log(`  ${key}: max_abs ${maxAbs.toExponential(2)}`);
    expect(maxAbs, key).toBeLessThan(Math.max(1e-4, 2e-5 * absMax(refNhwc)));
  }
  const name = `out_${call}${suffix}`;
  const ref = videoToFramesNhwc(outputs.get(`${name}_f64`)!);
  const { maxAbs } = maxAbsDiff(got, ref);
  const tol = config.recommended_tolerance_f32[name];
  const bound = Math.max(tol.atol, tol.rel_to_ref_max * absMax(ref));
  console.log(`${name}: max_abs ${maxAbs.toExponential(2)} (bound ${bound.toExponential(2)}) in ${ms.toFixed(0)} ms`);
  expect(maxAbs, name).toBeLessThan(bound);
}

/** A real checkpoint's key → shape manifest (oracle manifests/) as a shapes-only weight map. */
function manifestWeights(...files: string[]): WeightMap {
  const shapes = new Map<string, number[]>();
  for (const f of files) {
    const m = JSON.parse(readFileSync(path.resolve(DIR, '../../../manifests', f), 'utf8'));
    for (const [k, v] of Object.entries(m.tensors as Record<string, { shape: number[] }>)) shapes.set(k, v.shape);
  }
  return weightMap({ has: (n) => shapes.has(n), shape: (n) => shapes.get(n)!, names: () => [...shapes.keys()], get: () => Promise.reject(new Error('shapes only')) });
}

describe('UNetMotion topology of the real SD1.5 UNet + motion adapters (manifests, no weights)', () => {
  for (const [adapter, version, mid] of [['v1-5', 'v1', false], ['v1-5-2', 'v2', true], ['v1-5-3', 'v3', false]] as const) {
    it(`sd15 + motion adapter ${adapter}: 320/640/1280/1280, ${mid ? '21' : '20'} motion modules, ${version}`, () => {
      const topo = inferUNetTopology(manifestWeights('sd15_unet_diffusers.json', `motion_adapter_${adapter}_diffusers.json`));
      expect(topo.down.map((d) => d.channels)).toEqual([320, 640, 1280, 1280]);
      expect(topo.up.map((d) => d.channels)).toEqual([1280, 1280, 640, 320]);
      expect(topo.down.map((d) => d.attention)).toEqual([true, true, true, false]);
      expect(topo.up.map((d) => d.attention)).toEqual([false, true, true, true]);
      const modules = [...topo.down, ...topo.up].reduce((n, b) => n + b.motionModules, 0) + (topo.mid.motion ? 1 : 0);
      expect(modules).toBe(mid ? 21 : 20);
      expect(topo.crossAttentionDim).toBe(768);
      expect([topo.timeProjDim, topo.timeEmbedDim]).toEqual([320, 1280]);
      expect(topo.motionVersion).toBe(version);
    });
  }

  it('512², 16 frames: one sample fits a 128 MiB binding in f16 (widest: the top-level QKV), a CFG pair does not', () => {
    const topo = inferUNetTopology(manifestWeights('sd15_unet_diffusers.json', 'motion_adapter_v1-5-2_diffusers.json'));
    const limit = 128 * 2 ** 20;
    expect(widestActivation(topo, 16, 64, 64)).toBe(16 * 64 * 64 * 3 * 320);
    expect(widestActivation(topo, 16, 64, 64) * 2).toBeLessThanOrEqual(limit); // f16, one sample
    expect(widestActivation(topo, 32, 64, 64) * 2).toBeGreaterThan(limit); // f16, CFG batch → per sample
    expect(widestActivation(topo, 16, 64, 64) * 4).toBeGreaterThan(limit); // f32: src/plan chunks it (the 640-channel state at 64×64, 168 MB, is what a 128 MiB adapter cannot take)
  });
});

describe('UNetMotion bad input', () => {
  it('names a missing weight and releases what it had uploaded', async () => {
    const e = await testEngine('f32');
    const full = await canonical(LAYOUTS.diffusers);
    const gone = 'up_blocks.2.attentions.1.transformer_blocks.0.attn2.to_v.weight';
    const broken: WeightMap = { ...full, has: (k) => k !== gone && full.has(k) };
    const before = e.pool.stats().buffersInUse;
    await expect(UNetMotion.load(e, broken, hyper)).rejects.toThrow(gone);
    expect(e.pool.stats().buffersInUse).toBeLessThanOrEqual(before + 1); // +1: GEMM placeholder
  });

  it('rejects latents that are not b × F frames, text of another width, and missing timesteps', async () => {
    const e = await testEngine('f32');
    const unet = await UNetMotion.load(e, await canonical(LAYOUTS.diffusers), hyper);
    const D = config.unet_config.cross_attention_dim;
    const lat = e.empty([2 * 4, 8, 8, 4]);
    const txt = e.empty([2, 77, D]);
    const wide = e.empty([2, 77, D + 1]);
    try {
      expect(() => unet.forward(lat, [1, 2], txt, 3)).toThrow(/2 samples × 3 frames/);
      expect(() => unet.forward(lat, [1, 2], wide, 4)).toThrow(new RegExp(`expected \\[2, tokens, ${D}\\]`));
      expect(() => unet.forward(lat, [], txt, 4)).toThrow(/one finite timestep per sample/);
    } finally {
      for (const t of [lat, txt, wide]) t.release();
      unet.release();
    }
  });
});

// Every oracle output of unet_motion_tiny (each call, both semantics, both weight layouts, every stored
// intermediate) is compared by the conformance harness (tests/conformance.test.ts); the tests here cover what
// it does not: topology, bad input, chunking under the binding limit, release, f16.
describe('UNetMotion (unet_motion_tiny/vA, f32, diffusers layout)', () => {
  it('LDM single-file UNet + original motion-module layout: the same canonical weights, bit for bit', async () => {
    const [a, b] = await Promise.all([canonical(LAYOUTS.diffusers), canonical(LAYOUTS['ldm+original'])]);
    const names = a.names().filter((n) => !n.endsWith('pos_embed.pe')).sort(); // PE buffers: computed, never read
    expect(b.names().filter((n) => !n.endsWith('pos_embed.pe')).sort()).toEqual(names);
    for (const n of names) {
      expect(b.shape(n), n).toEqual(a.shape(n));
      expect(maxAbsDiff(await b.read(n), await a.read(n)).maxAbs, n).toBe(0);
    }
  }, 400_000);

  it('under a forced small binding limit: one sample per pass, spatial layers in frame chunks, motion attention in position chunks, feed-forwards in row chunks; same result', async () => {
    const e = await testEngine('f32');
    const { unet } = await loadShared();
    // The smallest limit src/plan accepts: one sample's widest whole-frame tensor.
    const levels = levelWidths(unet.topology, H, W);
    const limit = Math.max(...levels.map((l) => F * l.h * l.w * l.hidden * 4));
    const plan = planUNetChunking(unet.topology, { batch: B, frames: F, h: H, w: W }, { maxTensorBytes: limit, align: e.limits.minStorageBufferOffsetAlignment, bytesPerValue: 4 });
    expect(plan.samplesPerPass).toBe(1);
    expect(plan.levels.some((l) => l.spatialFrames < F)).toBe(true);
    expect(plan.levels.some((l) => l.motionPositions < l.h * l.w)).toBe(true);
    expect(plan.levels.some((l) => l.ffRows < F * l.h * l.w)).toBe(true);
    await checkCall('t_mixed', 'diffusers', unet, limit); // per-sample timesteps [981, 1] must stay with their sample
    const lat = e.empty([B * F, H, W, 4]);
    const txt = e.empty(text.shape);
    expect(() => unet.forward(lat, [1, 2], txt, F, { maxTensorBytes: limit - 4 })).toThrow(/binding limit/);
    lat.release();
    txt.release();
  }, 400_000);

  it('releases every activation and every weight', async () => {
    const e = await testEngine('f32');
    const { unet, lat, txt, before, loaded } = await loadShared();
    lat.release();
    txt.release();
    expect(e.pool.stats().buffersInUse, 'activations released').toBe(loaded);
    unet.release();
    shared = null;
    expect(e.pool.stats().buffersInUse, 'weights released').toBeLessThanOrEqual(before + 1); // +1: GEMM placeholder
  });
});

describe('UNetMotion (unet_motion_tiny/vA, f16)', () => {
  it.skipIf(!F16)('out_t501_official in f16 compute (f32 accumulation)', async () => {
    const e = await testEngine('f16');
    const before = e.pool.stats().buffersInUse;
    const unet = await UNetMotion.load(e, await canonical(LAYOUTS.diffusers), hyper);
    const lat = e.upload(videoToFramesNhwc(sample), [B * F, H, W, 4]);
    const txt = e.upload(Float32Array.from(text.data), text.shape);
    const y = unet.forward(lat, Array.from(inputs.get('timestep_t501')!.data), txt, F, { semantics: 'official_animatediff' });
    const got = await e.read(y);
    for (const t of [y, lat, txt]) t.release();
    unet.release();
    expect(e.pool.stats().buffersInUse).toBeLessThanOrEqual(before + 1); // +1: GEMM placeholder
    const ref = videoToFramesNhwc(outputs.get('out_t501_official_f64')!);
    const { maxAbs } = maxAbsDiff(got, ref);
    // README: ≈ 2e-2 of the output maximum for f16 compute; the oracle's own f16 run is off by 2e-3 relative
    // (half_precision_error), a wrong layout or pooling by > 5e-2 relative (semantics_effect_f64).
    const bound = 2e-2 * absMax(ref);
    console.log(`f16 out_t501_official: max_abs ${maxAbs.toExponential(2)} (bound ${bound.toExponential(2)})`);
    expect(maxAbs).toBeLessThan(bound);
  }, 400_000);
});
