import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNodeFileSource } from '../../src/platform/node-file-source';
import { openSafetensors, writeSafetensors } from '../../src/weights/safetensors';
import { blobSource, openUrlSource, opfsSource } from '../../src/weights/source';
import { randn } from '../random';
import { VECTORS } from '../oracle';

// A real HTTP server on 127.0.0.1 serving one file three ways: with Range support, ignoring Range (200), 404/403.
const values = randn(1000, 7);
const file = writeSafetensors([
  { name: 'a.weight', dtype: 'F32', shape: [10, 100], data: values },
  { name: 'b.weight', dtype: 'F16', shape: [1000], data: values },
]);
let server: Server;
let base = '';
let rangeRequests = 0;
let flaky = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    if (path === '/missing.safetensors') { res.writeHead(404).end('not found'); return; }
    if (path === '/gated.safetensors') { res.writeHead(403).end('forbidden'); return; }
    if (path === '/norange.safetensors') { res.writeHead(200, { 'Content-Length': file.length }).end(Buffer.from(file)); return; }
    if (path === '/drop.safetensors') { req.socket.destroy(); return; }
    if (path === '/flaky.safetensors' && flaky++ % 2 === 0) { res.writeHead(503).end('busy'); return; }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) { res.writeHead(200, { 'Content-Length': file.length }).end(Buffer.from(file)); return; }
    rangeRequests++;
    const start = Number(m[1]), end = Math.min(Number(m[2]), file.length - 1);
    if (start >= file.length) { res.writeHead(416, { 'Content-Range': `bytes */${file.length}` }).end(); return; }
    const lie = path === '/wrongrange.safetensors' && start > 0 ? 1 : 0;
    res.writeHead(206, {
      'Content-Range': `bytes ${start + lie}-${end}/${file.length}`,
      'Content-Length': end - start + 1,
    }).end(Buffer.from(file.subarray(start, end + 1)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('byte sources', () => {
  it('reads a safetensors file over HTTP Range requests, one tensor per request', async () => {
    const src = await openUrlSource(`${base}/model.safetensors`);
    expect(src.size).toBe(file.length);
    const before = rangeRequests;
    const f = await openSafetensors(src);
    expect(rangeRequests - before).toBe(2); // length + header
    expect(Array.from(await f.read('a.weight'))).toEqual(Array.from(values));
    expect(rangeRequests - before).toBe(3);
    const got = await src.read(100, 50);
    expect(Array.from(got)).toEqual(Array.from(file.subarray(100, 150)));
  });

  it('uses an injected fetch', async () => {
    const seen: string[] = [];
    const src = await openUrlSource('https://example.invalid/x', {
      fetch: async (url, init) => {
        seen.push((init?.headers as Record<string, string>).Range);
        return fetch(`${base}/model.safetensors`, init);
      },
      name: 'x.safetensors',
    });
    await src.read(8, 4);
    expect(seen).toEqual(['bytes=0-0', 'bytes=8-11']);
  });

  it('gives clear errors for 404, 403, no Range support, a wrong Content-Range and network failure', async () => {
    await expect(openUrlSource(`${base}/missing.safetensors`)).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/missing\.safetensors: not found \(HTTP 404\)/) });
    await expect(openUrlSource(`${base}/gated.safetensors`)).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/access denied \(HTTP 403\)/) });
    await expect(openUrlSource(`${base}/norange.safetensors`)).rejects.toMatchObject({ code: 'no-range', message: expect.stringMatching(/ignores HTTP Range/) });
    const wrong = await openUrlSource(`${base}/wrongrange.safetensors`);
    await expect(wrong.read(10, 5)).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/asked for bytes 10–14, the server sent Content-Range "bytes 11-14/) });
    await expect(openUrlSource(`${base}/drop.safetensors`, { retryDelayMs: 0 })).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/network error/) });
    const src = await openUrlSource(`${base}/model.safetensors`);
    await expect(src.read(file.length - 2, 4)).rejects.toMatchObject({ code: 'truncated' });
  });

  it('retries transient failures (503) and lets an abort through untouched', async () => {
    const src = await openUrlSource(`${base}/flaky.safetensors`, { retryDelayMs: 0 });
    expect(Array.from(await src.read(0, 16))).toEqual(Array.from(file.subarray(0, 16)));
    await expect(openUrlSource(`${base}/flaky.safetensors`, { retries: 0 })).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/HTTP status 503/) });
    const ac = new AbortController();
    ac.abort();
    await expect(openUrlSource(`${base}/model.safetensors`, { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('reads a Blob lazily and a Node file', async () => {
    const src = blobSource(new Blob([file]), 'blob.safetensors');
    const f = await openSafetensors(src);
    expect(Array.from(await f.read('a.weight'))).toEqual(Array.from(values));
    await expect(src.read(-1, 2)).rejects.toMatchObject({ code: 'bad-offsets' });
    const node = await openNodeFileSource(`${VECTORS}/motion_module/vA/weights_original.safetensors`);
    try {
      expect(node.size).toBe(736960);
      expect((await node.read(node.size - 3, 3)).length).toBe(3);
      await expect(node.read(node.size - 3, 4)).rejects.toMatchObject({ code: 'truncated' });
    } finally { await node.close(); }
    await expect(openNodeFileSource('/nonexistent/file.safetensors')).rejects.toMatchObject({ code: 'io' });
  });

  it('reads an OPFS file handle through its File (a stand-in handle: Node has no OPFS)', async () => {
    const handle = { kind: 'file', name: 'unet.safetensors', getFile: async () => new File([file], 'unet.safetensors') } as unknown as FileSystemFileHandle;
    const f = await openSafetensors(await opfsSource(handle));
    expect(f.name).toBe('unet.safetensors');
    expect(Array.from(await f.read('a.weight'))).toEqual(Array.from(values));
    const broken = { kind: 'file', name: 'gone.safetensors', getFile: async () => { throw new DOMException('not found', 'NotFoundError'); } } as unknown as FileSystemFileHandle;
    await expect(opfsSource(broken)).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/^gone\.safetensors: cannot open the stored file/) });
  });
});
