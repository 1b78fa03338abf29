// The memory planner's verdict before anything is downloaded (src/worker/planning.ts), against the fake Hub
// (e2e/fake-hub.ts: resolve redirects, a CDN with Range) serving the tiny test model (e2e/tiny-model.ts), with a
// real model cache on disk. The planner is the real one (null device); only the adapter's limits are chosen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { type FakeHub, startFakeHub } from '../../e2e/fake-hub';
import { tinyModelAvailable, tinyModelResponse } from '../../e2e/tiny-model';
import { ModelCache } from '../../src/delivery/cache';
import { PlanRefusedError } from '../../src/plan/plan';
import { makeSpec } from '../../src/pipeline/spec';
import { nodeFileStore } from '../../src/platform/node-file-store';
import { adapterTarget, engineTarget, type PlanTarget, prepareRun, RunPlanner, selectionPlanModels } from '../../src/worker/planning';
import { createNodeEngine, nodeGpu } from '../../src/platform/node-gpu';
import type { ModelSelection } from '../../src/worker/protocol';

const WEIGHTS = ['unet_diffusers.safetensors', 'vae_diffusers.safetensors', 'text_encoder_transformers.safetensors', 'motion_adapter_diffusers.safetensors'];
const CONFIGS = ['unet_config.json', 'vae_config.json', 'text_encoder_config.json', 'motion_adapter_config.json'];
const body = (name: string) => new Uint8Array(tinyModelResponse(name, undefined).body);

/** A target whose binding limit is small enough to refuse 512², 16 frames on the tiny model (and 128 MiB-class buffers). */
const small: PlanTarget = { f16: false, dtype: null, limits: { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 30, minStorageBufferOffsetAlignment: 256 } };
const roomy: PlanTarget = { f16: false, dtype: null, limits: { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 30, minStorageBufferOffsetAlignment: 256 } };

describe.skipIf(!tinyModelAvailable())('the planner before any download (tiny model on the fake Hub)', () => {
  let fake: FakeHub;
  let dir: string;
  let cache: ModelCache;
  const url = (p: string) => `${fake.hub}/tiny/model/resolve/main/${p}`;
  const selection = (): ModelSelection => ({
    base: WEIGHTS.slice(0, 3).map((n) => ({ kind: 'url', url: url(n), name: n })),
    motion: [{ kind: 'url', url: url(WEIGHTS[3]), name: WEIGHTS[3] }],
    configs: CONFIGS.map((n) => ({ kind: 'url', url: url(n), name: n })),
    tokenizer: { kind: 'url', url: url('tokenizer.json'), name: 'tokenizer.json' },
  });
  /** Body bytes the CDN (where the weight files live) has sent, from its request log's ranges; a request without a Range counts the whole file. */
  const weightBytesServed = () => fake.log.filter((l) => l.startsWith('CDN GET')).reduce((n, l) => {
    const m = /bytes=(\d+)-(\d+)$/.exec(l);
    return n + (m ? Number(m[2]) - Number(m[1]) + 1 : Infinity);
  }, 0);

  beforeAll(async () => {
    fake = await startFakeHub();
    fake.addRepo('tiny/model', Object.fromEntries([...WEIGHTS, ...CONFIGS, 'tokenizer.json'].map((n) => [n, body(n)])));
  });
  afterAll(async () => fake.close());
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'adw-plan-'));
    cache = await ModelCache.open({ store: nodeFileStore(dir), hub: fake.hub, probe: { online: () => true, reachable: async () => false }, retryDelayMs: 0 });
    fake.log.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a run that cannot fit before any weight is downloaded: only the headers are read, by Range', async () => {
    const spec = makeSpec({ prompt: 'x', frames: 16, width: 512, height: 512, guidance: 7.5 });
    const run = prepareRun({
      planner: new RunPlanner(), target: small, selection: selection(), key: 'k', setting: { activations: 'auto', weights: 'auto' }, spec, cache,
      signal: new AbortController().signal,
    });
    const err = await run.catch((e) => e);
    expect(err).toBeInstanceOf(PlanRefusedError);
    expect(err.kind).toBe('capability');
    // The planner's figure against the adapter's, in the words the user reads.
    expect(err.message).toMatch(/512×512 with 16 frames .*over the 1048576-byte binding limit; this GPU allows 1 MB per buffer binding and 1\.0 GB per buffer\./);
    const total = WEIGHTS.reduce((n, w) => n + body(w).length, 0);
    const served = weightBytesServed();
    expect(fake.log.some((l) => l.startsWith('CDN GET')), 'the headers were read from the network').toBe(true);
    // Each file: a 1-byte probe, the first 16 bytes, the JSON header; no byte of tensor data.
    expect(served).toBeLessThan(total / 20);
    const headerEnd = new Map(WEIGHTS.map((w) => [fake.sha256(body(w)), 8 + Number(Buffer.from(body(w)).readBigUInt64LE(0))]));
    for (const l of fake.log.filter((x) => x.startsWith('CDN GET'))) {
      const [, sha, end] = /\/lfs\/([0-9a-f]{64}).* bytes=\d+-(\d+)$/.exec(l)!;
      expect(Number(end), l).toBeLessThan(headerEnd.get(sha)!);
    }
    // Nothing stored, not even the config files: choosing a model leaves no trace in the cache until Generate.
    expect(cache.manifest.all()).toEqual([]);
    expect(fake.log.some((l) => l.includes('tokenizer.json')), 'the tokenizer is not fetched for planning').toBe(false);
  });

  it('a run that fits is planned from the headers, then downloaded; the second plan reuses the first', async () => {
    const planner = new RunPlanner();
    const spec = makeSpec({ prompt: 'x', frames: 2, width: 64, height: 64, guidance: 7.5 });
    const prepared = await prepareRun({
      planner, target: roomy, selection: selection(), key: 'k', setting: { activations: 'auto', weights: 'auto' }, spec, cache, signal: new AbortController().signal,
    });
    expect(prepared.precision).toEqual({ activations: 'f32', weights: 'f32' });
    expect(prepared.plan.fits).toBe(true);
    for (const w of WEIGHTS) expect(cache.manifest.get(url(w))?.complete, `${w} stored`).toBe(true);
    expect(prepared.local.base.every((s) => s.kind === 'file')).toBe(true);
    // Planned again from the stored files: the same shapes, the same plan object (no second trace, no request).
    fake.log.length = 0;
    const shapes = await selectionPlanModels(planner, selection(), 'k', cache, new AbortController().signal);
    expect(shapes).toBe(prepared.shapes);
    expect(await planner.planFor(roomy, shapes, spec, prepared.precision)).toBe(prepared.plan);
    expect(fake.log).toEqual([]);
  });

  it('the plan request: figures when it fits; when it does not, the reason and a smaller setting the planner accepts', async () => {
    const planner = new RunPlanner();
    const shapes = await selectionPlanModels(planner, selection(), 'k', cache, new AbortController().signal);
    const setting = { activations: 'auto', weights: 'auto' } as const;
    const fits = await planner.verdict(small, setting, shapes, makeSpec({ prompt: 'x', frames: 2, width: 64, height: 64 }));
    expect(fits).toMatchObject({ fits: true, precision: { activations: 'f32', weights: 'f32' }, limits: { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 30 } });
    expect(fits.peakBytes).toBeGreaterThan(0);

    const big = makeSpec({ prompt: 'x', frames: 16, width: 512, height: 384 });
    const heard: unknown[] = [];
    const refused = await planner.verdict(small, setting, shapes, big, undefined, (v) => heard.push(v));
    expect(refused.fits).toBe(false);
    expect(refused.reason).toMatch(/512×384 with 16 frames .*binding limit; this GPU allows 1 MB per buffer binding/);
    expect(heard).toEqual([expect.objectContaining({ fits: false, searching: true })]);
    const s = refused.suggestion!;
    expect(s).toBeDefined();
    // The largest smaller size with the same aspect that the planner accepts; one size step larger it refuses.
    expect(s.width! / s.height!).toBeCloseTo(512 / 384, 1);
    expect(s.width! % 8 + s.height! % 8).toBe(0);
    expect(s.label).toBe(`${s.width}×${s.height}`);
    const accepted = await planner.verdict(small, setting, shapes, { ...big, width: s.width!, height: s.height! });
    expect(accepted).toMatchObject({ fits: true, peakBytes: s.peakBytes });
    const shortSide = Math.min(s.width!, s.height!) + 8;
    const next = { ...big, width: Math.floor(512 * shortSide / 384 / 8) * 8, height: shortSide };
    expect((await planner.verdict(small, setting, shapes, next)).fits).toBe(false);
  });
});

describe('the UI\'s plan and the engine\'s plan are made against the same limits', () => {
  for (const cap of [undefined, 1 << 20]) {
    it(`adapterTarget (no device yet) = engineTarget (the device made for the run)${cap ? ', binding limit lowered to 1 MiB' : ''}`, async () => {
      const adapter = (await (await nodeGpu()).requestAdapter({ powerPreference: 'high-performance' }))!;
      const engine = await createNodeEngine({ precision: 'f32', maxBindingBytes: cap });
      try {
        const before = adapterTarget(adapter, cap);
        const after = engineTarget(engine);
        expect(before.limits).toEqual(after.limits);
        // Both resolve 'auto' activations to the dtype the engine was made with (f32 asked for here).
        expect(after.dtype).toBe('f32');
      } finally {
        engine.destroy();
      }
    });
  }
});
