// A local imitation of the Hugging Face Hub for tests (no internet): the file-listing API
// (/api/models/<repo>/tree/<rev>?recursive=true with LFS sha256 and sizes), resolve URLs that redirect LFS files to a
// second origin (the "CDN") with the Hub's X-Linked-Etag / X-Linked-Size / X-Repo-Commit headers, Range requests
// (206 + Content-Range) and CORS headers. Faults are injected per file: a connection dropped mid-body, corrupted
// bytes, no Range support, a gated (401) repo, a host without CORS.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Faults hit download responses only (the whole body, or its rest from an offset), never a header read (a closed range). */
export interface FakeHubFaults {
  /** path → cut the connection after this many body bytes, on the next `times` responses (default 1). */
  dropAfter?: Map<string, { bytes: number; times?: number }>;
  /** paths whose next response has one byte flipped (the listing still reports the true sha256). */
  corruptOnce?: Set<string>;
  /** Answer Range requests with the whole file (200). */
  noRange?: boolean;
  /** Repos that answer 401 (gated). */
  gated?: Set<string>;
  /** path → send its body at about this many bytes per second (a slow connection). */
  slow?: Map<string, number>;
}

export interface FakeHub {
  /** The Hub origin, e.g. http://127.0.0.1:12345 */
  hub: string;
  /** The CDN origin LFS downloads are redirected to. */
  cdn: string;
  faults: FakeHubFaults;
  /** Requests seen, as "METHOD path range" lines. */
  log: string[];
  /** CDN bodies being sent now, and the most at once (bounded parallelism). */
  stats: { active: number; maxActive: number };
  addRepo(repo: string, files: Record<string, Uint8Array | string>): void;
  sha256(bytes: Uint8Array | string): string;
  close(): Promise<void>;
}

const COMMIT = 'c0ffee0000000000000000000000000000000001';

const isLfs = (path: string) => /\.(safetensors|bin|ckpt)$/.test(path);
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const sha1 = (b: Uint8Array | string) => createHash('sha1').update(b).digest('hex');

function cors(res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, ETag, X-Linked-Etag, X-Linked-Size, X-Repo-Commit, Accept-Ranges, Link');
  // The app is cross-origin isolated (COEP require-corp): CORS answers need no CORP, but say it anyway.
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function startFakeHub(): Promise<FakeHub> {
  const repos = new Map<string, Map<string, Buffer>>();
  const faults: FakeHubFaults = { dropAfter: new Map(), corruptOnce: new Set(), gated: new Set(), slow: new Map() };
  const log: string[] = [];
  const stats = { active: 0, maxActive: 0 };
  const byHash = new Map<string, { repo: string; path: string; body: Buffer }>();

  /** Sends `body` honouring a Range header, with the fault injections for `path`. */
  const sendFile = (req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, extra: Record<string, string>) => {
    let out = body;
    // Faults hit downloads (the whole body, or its rest from an offset), not the planner's reads of a header (a
    // closed range such as bytes=0-15), which come first and would otherwise use them up.
    const download = !/^bytes=\d+-\d+$/.test(req.headers.range ?? '');
    if (download && faults.corruptOnce?.delete(path)) {
      out = Buffer.from(body);
      out[out.length >> 1] ^= 0xff;
    }
    const range = faults.noRange ? undefined : req.headers.range;
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    let status = 200, start = 0, end = out.length - 1;
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), end) : end;
      if (start > end) {
        res.writeHead(416, { ...extra, 'Content-Range': `bytes */${out.length}` });
        return res.end();
      }
      status = 206;
    }
    const part = out.subarray(start, end + 1);
    res.writeHead(status, {
      ...extra, 'Accept-Ranges': faults.noRange ? 'none' : 'bytes', 'Content-Type': 'application/octet-stream', 'Content-Length': String(part.length),
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${out.length}` } : {}),
    });
    const drop = download ? faults.dropAfter?.get(path) : undefined;
    if (drop && req.method !== 'HEAD') {
      if ((drop.times ?? 1) <= 1) faults.dropAfter!.delete(path);
      else drop.times = (drop.times ?? 1) - 1;
      res.write(part.subarray(0, Math.min(drop.bytes, part.length)), () => {
        setTimeout(() => res.socket?.destroy(), 200);
      });
      return;
    }
    const rate = download ? faults.slow?.get(path) : undefined;
    if (rate && req.method !== 'HEAD') {
      // 20 slices a second until the body is sent or the client goes away.
      const slice = Math.max(1, Math.round(rate / 20));
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= part.length) { clearInterval(timer); if (!res.destroyed) res.end(); return; }
        res.write(part.subarray(at, at + slice));
        at += slice;
      }, 50);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(req.method === 'HEAD' ? undefined : part);
  };

  const cdn = await listen((req, res) => {
    log.push(`CDN ${req.method} ${req.url} ${req.headers.range ?? ''}`);
    stats.active++;
    stats.maxActive = Math.max(stats.maxActive, stats.active);
    res.on('close', () => stats.active--);
    cors(res);
    if (req.method === 'OPTIONS') { res.setHeader('Access-Control-Allow-Headers', '*'); res.writeHead(204); return res.end(); }
    const m = /^\/lfs\/([0-9a-f]{64})/.exec(req.url ?? '');
    const f = m && byHash.get(m[1]);
    if (!f) { res.writeHead(404); return res.end('no such object'); }
    // The LFS CDN's ETag is the object's sha256.
    sendFile(req, res, f.path, f.body, { ETag: `"${m![1]}"` });
  });

  const hub = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    log.push(`HUB ${req.method} ${url.pathname} ${req.headers.range ?? ''}`);
    cors(res);
    if (req.method === 'OPTIONS') { res.setHeader('Access-Control-Allow-Headers', '*'); res.writeHead(204); return res.end(); }
    let segs: string[];
    try {
      segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      // A malformed %-escape (`/a/%zz`): the Hub answers 400, and a test server must not throw on it.
      res.writeHead(400);
      return res.end('Bad request: malformed percent-encoding in the path');
    }
    const api = segs[0] === 'api' && segs[1] === 'models';
    const [owner, name, verb, , ...rest] = api ? segs.slice(2) : segs;
    const repo = `${owner}/${name}`;
    const files = repos.get(repo);
    if (!files) { res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }); return res.end('Repository not found'); }
    if (faults.gated?.has(repo)) { res.writeHead(401, { 'X-Error-Code': 'GatedRepo' }); return res.end('Access to this repo is restricted'); }
    const path = rest.join('/');
    if (api && verb === 'tree') {
      const entries = [...files.entries()].filter(([p]) => !path || p.startsWith(`${path}/`)).map(([p, b]) => (isLfs(p)
        ? { type: 'file', path: p, size: b.length, oid: sha1(p), lfs: { oid: sha(b), size: b.length, pointerSize: 134 } }
        : { type: 'file', path: p, size: b.length, oid: sha1(b) }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(entries));
    }
    if (!api && verb === 'resolve') {
      const body = files.get(path);
      if (!body) { res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }); return res.end('Entry not found'); }
      if (isLfs(path)) {
        res.writeHead(302, {
          Location: `${cdn.origin}/lfs/${sha(body)}?name=${encodeURIComponent(path)}`,
          'X-Linked-Etag': `"${sha(body)}"`, 'X-Linked-Size': String(body.length), 'X-Repo-Commit': COMMIT,
        });
        return res.end();
      }
      return sendFile(req, res, path, body, { ETag: `"${sha1(body)}"`, 'X-Repo-Commit': COMMIT });
    }
    res.writeHead(404);
    res.end();
  });

  return {
    hub: hub.origin, cdn: cdn.origin, faults, log, stats,
    sha256: sha,
    addRepo(repo, content) {
      const m = new Map<string, Buffer>();
      for (const [p, v] of Object.entries(content)) {
        const b = Buffer.from(typeof v === 'string' ? Buffer.from(v) : v);
        m.set(p, b);
        byHash.set(sha(b), { repo, path: p, body: b });
      }
      repos.set(repo, m);
    },
    close: async () => {
      for (const s of [hub.server, cdn.server]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}
