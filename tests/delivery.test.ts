// Model delivery (src/delivery) against a local imitation of the Hub (e2e/fake-hub.ts: listing API, resolve
// redirects to a second origin, X-Linked-Etag, Range) with real files in a temporary directory as the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeHub, startFakeHub } from '../e2e/fake-hub';
import { ModelCache, type CacheOptions } from '../src/delivery/cache';
import { DeliveryError } from '../src/delivery/errors';
import { MANIFEST_SLOTS } from '../src/delivery/manifest';
import type { NetworkProbe } from '../src/delivery/http';
import { describeError } from '../src/worker/errors';
import { pickModelFiles } from '../src/delivery/pick';
import { nodeFileStore } from '../src/platform/node-file-store';

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Byte equality without vitest's element-wise diff (seconds for 100 KB arrays). */
async function sameBytes(blob: Blob, want: Uint8Array): Promise<boolean> {
  return Buffer.compare(Buffer.from(await blob.arrayBuffer()), Buffer.from(want)) === 0;
}

const probe: NetworkProbe = { online: () => true, reachable: async () => false };

describe('pickModelFiles (as diffusers picks)', () => {
  const L = (...paths: string[]) => paths.map((p) => ({ path: p, size: 1 }));
  it('a pipeline: the fp16 variant of each component, with configs; pickles ignored', () => {
    const p = pickModelFiles(L('model_index.json', 'unet/config.json', 'unet/diffusion_pytorch_model.safetensors', 'unet/diffusion_pytorch_model.fp16.safetensors',
      'unet/diffusion_pytorch_model.fp16.bin', 'vae/config.json', 'vae/diffusion_pytorch_model.fp16.safetensors', 'text_encoder/config.json',
      'text_encoder/model.safetensors', 'text_encoder/pytorch_model.bin', 'safety_checker/model.safetensors'), '', 'r');
    expect(p.weights.map((f) => f.path)).toEqual(['unet/diffusion_pytorch_model.fp16.safetensors', 'vae/diffusion_pytorch_model.fp16.safetensors', 'text_encoder/model.safetensors']);
    expect(p.configs.map((f) => f.path)).toEqual(['unet/config.json', 'vae/config.json', 'text_encoder/config.json']);
  });
  it('sharded weights come as the whole set; a missing shard is named', () => {
    const p = pickModelFiles(L('config.json', 'diffusion_pytorch_model-00002-of-00002.safetensors', 'diffusion_pytorch_model-00001-of-00002.safetensors', 'diffusion_pytorch_model.safetensors.index.json'), '', 'r');
    expect(p.weights.map((f) => f.path)).toEqual(['diffusion_pytorch_model-00001-of-00002.safetensors', 'diffusion_pytorch_model-00002-of-00002.safetensors']);
    expect(() => pickModelFiles(L('config.json', 'diffusion_pytorch_model-00001-of-00003.safetensors'), '', 'r')).toThrow(/1 of the 3 shards/);
  });
  it('a subfolder, a single-file checkpoint, and the refusals', () => {
    expect(pickModelFiles(L('x/unet/config.json', 'x/unet/diffusion_pytorch_model.safetensors', 'y.safetensors'), 'x/unet', 'r').weights.map((f) => f.path)).toEqual(['x/unet/diffusion_pytorch_model.safetensors']);
    expect(pickModelFiles(L('README.md', 'toonyou_beta6.safetensors'), '', 'r')).toMatchObject({ layout: 'single-file checkpoint' });
    expect(() => pickModelFiles(L('a.safetensors', 'b.safetensors'), '', 'r')).toThrow(/2 checkpoints/);
    expect(() => pickModelFiles(L('model.ckpt'), '', 'r')).toThrow(/pickles/);
    expect(() => pickModelFiles(L('model_index.json', 'unet/diffusion_pytorch_model.bin', 'vae/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors'), '', 'r')).toThrow(/no \.safetensors weights for unet/);
  });
});

describe('ModelCache with the fake Hub', () => {
  let fake: FakeHub;
  let dir: string;
  const A = randomBytes(300_000, 1), B = randomBytes(200_000, 2), C = randomBytes(150_000, 3);
  const open = (extra: Partial<CacheOptions> = {}) => ModelCache.open({ store: nodeFileStore(dir), hub: fake.hub, probe, retryDelayMs: 0, checkpointBytes: 1 << 20, ...extra });
  const url = (repo: string, p: string) => `${fake.hub}/${repo}/resolve/main/${p}`;

  beforeAll(async () => {
    fake = await startFakeHub();
  });
  afterAll(async () => fake.close());
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'adw-cache-'));
    fake.addRepo('o/pipe', {
      'model_index.json': '{}', 'unet/config.json': '{"_class_name":"UNet2DConditionModel"}', 'unet/diffusion_pytorch_model.fp16.safetensors': A,
      'unet/diffusion_pytorch_model.safetensors': randomBytes(600_000, 9),
      'vae/config.json': '{"_class_name":"AutoencoderKL"}', 'vae/diffusion_pytorch_model.fp16.safetensors': B,
      'text_encoder/config.json': '{}', 'text_encoder/model.fp16.safetensors': C,
    });
    fake.log.length = 0;
    fake.stats.maxActive = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves a repo, downloads through the redirect, verifies against the listing, and serves the second load from the store', async () => {
    const cache = await open({ parallel: 2 });
    const r = await cache.resolveRepo('o/pipe', 'main', '');
    expect(r.files.map((f) => f.name)).toEqual(['o/pipe/unet/diffusion_pytorch_model.fp16.safetensors', 'o/pipe/vae/diffusion_pytorch_model.fp16.safetensors', 'o/pipe/text_encoder/model.fp16.safetensors']);
    expect(r.files[0].sha256).toBe(fake.sha256(A));
    const progress: number[] = [];
    const blobs = await cache.ensure([...r.files, ...r.configFiles], undefined, (p) => progress.push(p.received));
    expect(await sameBytes(blobs[0], A)).toBe(true);
    expect(await sameBytes(blobs[2], C)).toBe(true);
    expect(fake.log.some((l) => l.startsWith('CDN GET /lfs/'))).toBe(true);
    expect(fake.stats.maxActive).toBeLessThanOrEqual(2);
    expect(progress.at(-1)).toBe(A.length + B.length + C.length + r.configFiles.reduce((a, f) => a + f.size!, 0));
    const rec = cache.manifest.get(r.files[0].url)!;
    expect(rec).toMatchObject({ complete: true, size: A.length, sha256: fake.sha256(A), hashSource: 'hub', repo: 'o/pipe', revision: 'main' });

    fake.log.length = 0;
    const again = await open();
    const r2 = await again.resolveRepo('o/pipe', 'main', '');
    await again.ensure([...r2.files, ...r2.configFiles]);
    expect(fake.log, 'a cached model needs no request at all').toEqual([]);
  });

  it('a manifest write cut short loses nothing: the other slot holds the state before it, and no stored file is pruned', async () => {
    const cache = await open();
    const r = await cache.resolveRepo('o/pipe', 'main', '');
    await cache.ensure(r.files.slice(0, 1));
    await cache.ensure(r.files.slice(1, 2)); // later saves: both slots hold a state
    const store = nodeFileStore(dir);
    const files = (await store.list()).sort();
    // The worker is ended in the middle of the next save: the slot being written holds half a JSON text.
    const seqOf = async (slot: string) => JSON.parse((await store.readText(slot))!).seq as number;
    const [s0, s1] = [await seqOf(MANIFEST_SLOTS[0]), await seqOf(MANIFEST_SLOTS[1])];
    const newest = s0 > s1 ? MANIFEST_SLOTS[0] : MANIFEST_SLOTS[1];
    const text = (await store.readText(newest))!;
    await store.writeText(newest, text.slice(0, text.length >> 1));

    const reopened = await open();
    expect((await store.list()).sort(), 'no stored file is deleted').toEqual(files);
    expect(reopened.manifest.get(r.files[0].url)?.complete, 'the state before the torn save').toBe(true);
    // The older state may know the second file only in part: ensuring it again completes it from what that state
    // recorded, and the save that follows writes over the torn slot.
    await reopened.ensure(r.files.slice(1, 2));
    expect(reopened.manifest.get(r.files[1].url)?.complete).toBe(true);
    const third = await open();
    expect(third.manifest.get(r.files[1].url)?.complete).toBe(true);
  });

  it('a connection dropped mid-file resumes with a Range request and verifies', async () => {
    fake.faults.dropAfter!.set('unet/diffusion_pytorch_model.fp16.safetensors', { bytes: 100_000 });
    const cache = await open();
    const notes: string[] = [];
    const [blob] = await cache.ensure([{ url: url('o/pipe', 'unet/diffusion_pytorch_model.fp16.safetensors'), name: 'unet' }], undefined,
      (p) => p.files[0].note && notes.push(p.files[0].note));
    expect(await sameBytes(blob, A)).toBe(true);
    const ranges = fake.log.filter((l) => l.startsWith('CDN') && /bytes=\d+-$/.test(l));
    expect(ranges.length).toBe(1);
    expect(Number(/bytes=(\d+)-/.exec(ranges[0])![1])).toBeGreaterThan(0);
    expect(notes.join(' ')).toMatch(/dropped|ended early/);
  });

  it('corrupted bytes are detected, discarded and fetched again', async () => {
    fake.faults.corruptOnce!.add('vae/diffusion_pytorch_model.fp16.safetensors');
    const cache = await open();
    const notes: string[] = [];
    const [blob] = await cache.ensure([{ url: url('o/pipe', 'vae/diffusion_pytorch_model.fp16.safetensors'), name: 'vae' }], undefined,
      (p) => p.files[0].note && notes.push(p.files[0].note));
    expect(await sameBytes(blob, B)).toBe(true);
    expect(notes.join(' ')).toMatch(/sha256 .* discarded; fetching it again/);
    expect(fake.log.filter((l) => l.startsWith('CDN GET')).length).toBe(2);
  });

  it('bytes that stay wrong fail with "corrupt" and leave nothing stored', async () => {
    const cache = await open();
    fake.faults.corruptOnce!.add('text_encoder/model.fp16.safetensors');
    const u = url('o/pipe', 'text_encoder/model.fp16.safetensors');
    // A catalogue hash that is not the file's: both attempts mismatch.
    const err = await cache.ensure([{ url: u, name: 'te', sha256: 'ab'.repeat(32) }]).catch((e) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(['corrupt', 'upstream-changed']).toContain(err.code);
    expect(cache.manifest.get(u)?.complete ?? false).toBe(false);
  });

  it('the Hub reporting another hash than the catalogue is shown as an upstream change, not taken', async () => {
    const cache = await open();
    const err = await cache.ensure([{ url: url('o/pipe', 'vae/diffusion_pytorch_model.fp16.safetensors'), name: 'vae', sha256: 'cd'.repeat(32) }]).catch((e) => e);
    expect(err).toMatchObject({ code: 'upstream-changed' });
    expect(err.message).toMatch(/Delete this model in Storage/);
  });

  it('a download cancelled half-way keeps its bytes; after a "reload" it resumes from there', async () => {
    const u = url('o/pipe', 'unet/diffusion_pytorch_model.fp16.safetensors');
    fake.faults.dropAfter!.set('unet/diffusion_pytorch_model.fp16.safetensors', { bytes: 120_000 });
    const cache = await open({ retryDelayMs: 60_000 });
    const abort = new AbortController();
    const err = await cache.ensure([{ url: u, name: 'unet' }], abort.signal, (p) => { if (p.files[0].note) abort.abort(); }).catch((e) => e);
    expect(err.name).toBe('AbortError');
    const partial = cache.manifest.get(u)!;
    expect(partial.complete).toBe(false);
    expect(partial.received).toBeGreaterThan(0);

    fake.log.length = 0;
    const reloaded = await open();
    const [blob] = await reloaded.ensure([{ url: u, name: 'unet' }]);
    expect(await sameBytes(blob, A)).toBe(true);
    expect(fake.log.some((l) => l.startsWith('CDN') && l.endsWith(`bytes=${partial.received}-`))).toBe(true);
  });

  it('a server without Range support: the download starts the file again and still verifies', async () => {
    fake.faults.noRange = true;
    fake.faults.dropAfter!.set('vae/diffusion_pytorch_model.fp16.safetensors', { bytes: 50_000 });
    try {
      const cache = await open();
      const notes: string[] = [];
      const [blob] = await cache.ensure([{ url: url('o/pipe', 'vae/diffusion_pytorch_model.fp16.safetensors'), name: 'vae' }], undefined,
        (p) => p.files[0].note && notes.push(p.files[0].note));
      expect(await sameBytes(blob, B)).toBe(true);
      expect(notes.join(' ')).toMatch(/does not support resuming/);
    } finally {
      fake.faults.noRange = false;
    }
  });

  it('404 and gated repos give specific errors', async () => {
    const cache = await open();
    await expect(cache.ensure([{ url: url('o/pipe', 'nope.safetensors'), name: 'nope' }])).rejects.toMatchObject({ code: 'not-found' });
    await expect(cache.resolveRepo('o/missing', 'main', '')).rejects.toMatchObject({ code: 'not-found' });
    fake.addRepo('o/gated', { 'm.safetensors': A });
    fake.faults.gated!.add('o/gated');
    const err = await cache.ensure([{ url: url('o/gated', 'm.safetensors'), name: 'gated' }]).catch((e) => e);
    expect(err).toMatchObject({ code: 'access-denied', kind: 'network', httpStatus: 401 });
    expect(err.message).toMatch(/gated or private.*accept its licence/);
    const shown = describeError(err);
    expect(shown.message).toMatch(/^Could not download gated: access denied \(HTTP 401\)/);
    expect(shown.suggestion).toMatch(/accept its terms/);
  });

  it('the fake Hub answers a malformed %-escape with 400 (the test server does not throw)', async () => {
    for (const p of ['/o/%zz/resolve/main/m.safetensors', '/api/models/o/pipe/tree/%E0%A4%A']) {
      const res = await fetch(`${fake.hub}${p}`);
      expect(res.status, p).toBe(400);
    }
    expect((await fetch(`${fake.hub}/api/models/o/pipe/tree/main?recursive=true`)).status).toBe(200);
  });

  it('checks the storage quota before downloading', async () => {
    const cache = await open({ estimate: async () => ({ usage: 900_000, quota: 1_000_000 }) });
    const r = await cache.resolveRepo('o/pipe', 'main', '');
    fake.log.length = 0;
    const err = await cache.ensure(r.files).catch((e) => e);
    expect(err).toMatchObject({ code: 'quota', kind: 'storage' });
    expect(describeError(err).suggestion).toMatch(/Storage/);
    expect(err.message).toMatch(/needs 0\.7 MB more storage, but this site may use only 0\.1 MB more/);
    expect(fake.log.filter((l) => l.startsWith('CDN'))).toEqual([]);
  });

  it('deleting a model frees its files and the data derived from them; derived data is keyed by its inputs', async () => {
    const store = nodeFileStore(dir);
    const cache = await open();
    const r = await cache.resolveRepo('o/pipe', 'main', '');
    await cache.ensure(r.files);
    const te = r.files[2].sha256!;
    await cache.putDerived('onnx-text-encoder-v1', [te], new Uint8Array([1, 2, 3]), { label: 'text encoder graph', inputs: [te] });
    expect(new Uint8Array(await (await cache.getDerived('onnx-text-encoder-v1', [te]))!.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect(await cache.getDerived('onnx-text-encoder-v1', ['00'.repeat(32)])).toBeNull();
    // Written again under the same key: replaced, the old bytes gone from the store.
    const files = (await store.list()).length;
    await cache.putDerived('onnx-text-encoder-v1', [te], new Uint8Array([4, 5, 6, 7]), { label: 'text encoder graph', inputs: [te] });
    expect(new Uint8Array(await (await cache.getDerived('onnx-text-encoder-v1', [te]))!.arrayBuffer())).toEqual(new Uint8Array([4, 5, 6, 7]));
    expect((await store.list()).length).toBe(files);
    // An aborted write leaves nothing; an entry whose inputs the cache does not hold is shown on its own.
    const w = await cache.writeDerived('unet-int8', [te, 'int8'], { inputs: [te] });
    await w.write(new Uint8Array(10));
    await w.abort();
    expect((await store.list()).length).toBe(files);
    await cache.putDerived('other', ['ab'.repeat(32)], new Uint8Array([9]), { inputs: ['ab'.repeat(32)] });
    // The derived entry is shown with its source model, and deleted with it.
    const report = await cache.report();
    expect(report.models.find((m) => m.group === 'o/pipe')).toMatchObject({ bytes: A.length + B.length + C.length + 4, derivedBytes: 4, complete: true });
    await cache.remove('o/pipe');
    expect(await store.list()).toHaveLength(files - 4 + 1);
    expect(await cache.getDerived('onnx-text-encoder-v1', [te])).toBeNull();
    expect((await cache.report()).models.map((m) => m.group)).toEqual(['derived: other']);
    await cache.removeAll();
    expect((await store.list()).filter((n) => !MANIFEST_SLOTS.includes(n as never))).toEqual([]);
  });
});
