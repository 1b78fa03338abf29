import type { Engine } from '../gpu/engine';
import { kernel } from '../gpu/kernel';
import { Params } from '../gpu/params';
import { fmtShape, type Tensor } from '../gpu/tensor';
import groupnormWgsl from '../../shaders/groupnorm.wgsl?raw';
import { ACTIVATION_ID, ACTIVATIONS_WGSL } from './activation';

const SRC = ACTIVATIONS_WGSL + groupnormWgsl;
const STATS = kernel('groupnorm_stats', SRC, 'stats_main');
const FINALIZE = kernel('groupnorm_finalize', SRC, 'finalize_main');
const NORMALIZE = kernel('groupnorm_normalize', SRC, 'normalize_main');
const NORMALIZE4 = kernel('groupnorm_normalize4', SRC, 'normalize4_main');
const PLAIN = kernel('groupnorm_plain', SRC, 'plain_main');
const WG = 256;
/** Values one stats workgroup reduces (~64 per thread): big enough to amortise, small enough to fill the GPU. */
const VALUES_PER_CHUNK = 16384;

export interface GroupNormOptions {
  /** Number of channel groups (32 in SD1.5; the tiny test models use fewer). C must be divisible by it. */
  groups: number;
  eps: number;
  /** Fused activation after the affine transform (ResNet blocks: SiLU). */
  act?: 'none' | 'silu';
  /**
   * Pool the statistics over this many consecutive samples (n = b*F .. b*F+F-1): AnimateDiff v1's ResNet /
   * output GroupNorm and diffusers' motion-module GroupNorm, which see the 5-D (b, C, f, h, w) tensor.
   * Never pools across different b (CFG halves, videos). Default 1 (per frame).
   */
  framesPerGroup?: number;
}

interface Geometry { N: number; C: number; G: number; cg: number; domains: number; rows: number }

function geometry(x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): Geometry {
  const where = `groupNorm(x ${fmtShape(x.shape)}, groups ${o.groups}, framesPerGroup ${o.framesPerGroup ?? 1})`;
  if (x.shape.length < 2) throw new RangeError(`${where}: x must be [N, ..., C]`);
  const N = x.shape[0], C = x.shape[x.shape.length - 1], G = o.groups, F = o.framesPerGroup ?? 1;
  if (!Number.isInteger(G) || G < 1 || C % G !== 0) throw new RangeError(`${where}: C = ${C} is not divisible by the group count`);
  if (!Number.isInteger(F) || F < 1 || N % F !== 0) throw new RangeError(`${where}: N = ${N} is not divisible by framesPerGroup`);
  if (gamma.size !== C || beta.size !== C) throw new RangeError(`${where}: gamma ${fmtShape(gamma.shape)} / beta ${fmtShape(beta.shape)} must have C = ${C} values`);
  if (gamma.dtype !== x.dtype || beta.dtype !== x.dtype) throw new TypeError(`${where}: gamma/beta are ${gamma.dtype}/${beta.dtype}, x is ${x.dtype}`);
  if (!(o.eps >= 0)) throw new RangeError(`${where}: eps must be >= 0, got ${o.eps}`);
  if (o.act !== undefined && o.act !== 'none' && o.act !== 'silu') throw new RangeError(`${where}: unsupported fused activation '${o.act}'`);
  const domains = N / F;
  return { N, C, G, cg: C / G, domains, rows: (x.size / (N * C)) * F };
}

/**
 * torch.nn.GroupNorm on channels-last data x [N, H, W, C] (or [N, L, C], any middle dims), with gamma/beta [C]:
 * statistics (biased variance, f32) over the C/groups channels × all positions of one sample, or of
 * `framesPerGroup` consecutive samples; optional fused SiLU. Three dispatches: chunked partial statistics
 * (Welford + Chan merge, robust to large means), a merge per (sample, group) (skipped when one chunk covers a
 * group), an elementwise normalise (4 channels per thread when C % 4 == 0).
 * Tensors over the binding limit are processed in parts of whole statistics domains.
 */
export function groupNorm(e: Engine, x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): Tensor {
  const g = geometry(x, gamma, beta, o);
  const F = o.framesPerGroup ?? 1;
  const maxWg = e.limits.maxComputeWorkgroupsPerDimension;
  const domainBytes = x.byteLength / g.domains;
  // Whole statistics domains per part: bounded by the binding limit and by one workgroup row per (b, g).
  // Domains are independent, so parts are exact; each part binds views of x and out.
  const perPart = Math.min(Math.floor(e.maxBindingBytes / domainBytes), Math.floor(maxWg / g.G));
  if (perPart < 1) {
    throw new RangeError(`groupNorm: one statistics domain of x ${fmtShape(x.shape)} (${F} sample(s), ${domainBytes} bytes) exceeds the ${e.maxBindingBytes}-byte binding limit`);
  }
  if (perPart < g.domains && domainBytes % e.limits.minStorageBufferOffsetAlignment !== 0) {
    throw new RangeError(`groupNorm: x ${fmtShape(x.shape)} must be split (binding or workgroup limit) but its ${domainBytes}-byte statistics domains are not ${e.limits.minStorageBufferOffsetAlignment}-byte aligned`);
  }
  const out = e.empty(x.shape, x.dtype);
  if (perPart >= g.domains) {
    groupNormInto(e, x, gamma, beta, o, g, out);
    return out;
  }
  for (let d = 0; d < g.domains; d += perPart) {
    const count = Math.min(perPart, g.domains - d);
    groupNormInto(e, x.slice0(d * F, count * F), gamma, beta, o, { ...g, domains: count }, out.slice0(d * F, count * F));
  }
  return out;
}

function groupNormInto(e: Engine, x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions, g: Geometry, out: Tensor): void {
  const { C, G, cg, domains, rows } = g;
  const domainGroups = domains * G;
  const maxWg = e.limits.maxComputeWorkgroupsPerDimension;
  let rowsPerChunk = Math.max(1, Math.ceil(VALUES_PER_CHUNK / cg));
  let chunks = Math.ceil(rows / rowsPerChunk);
  if (chunks > maxWg) { chunks = maxWg; rowsPerChunk = Math.ceil(rows / chunks); chunks = Math.ceil(rows / rowsPerChunk); }
  const vec4 = C % 4 === 0;
  const threads = vec4 ? x.size / 4 : x.size;
  const params = new Params().u32(rows).u32(C).u32(G).u32(cg).u32(chunks).u32(rowsPerChunk).u32(threads).f32(o.eps).u32(0).bytes();
  const stats = e.empty([domainGroups * 2], 'f32', 'groupnorm stats');
  if (chunks === 1) {
    // One workgroup covers each (b, g): it writes (mean, rstd) directly.
    e.dispatch({ kernel: STATS, dtype: x.dtype, bindings: [params, x, stats], workgroups: [1, domainGroups], constants: { DIRECT: 1 } });
  } else {
    const partials = e.empty([domainGroups * chunks * 3], 'f32', 'groupnorm partials');
    e.dispatch({ kernel: STATS, dtype: x.dtype, bindings: [params, x, partials], workgroups: [chunks, domainGroups] });
    e.dispatch({ kernel: FINALIZE, dtype: x.dtype, bindings: [params, partials, stats], workgroups: [domainGroups] });
    partials.release(); // back to the pool; later users of the buffer are ordered after these dispatches
  }
  e.dispatch({
    kernel: vec4 ? NORMALIZE4 : NORMALIZE, dtype: x.dtype, bindings: [params, x, stats, gamma, beta, out],
    workgroups: e.grid(threads, WG), constants: { ACT: ACTIVATION_ID[o.act ?? 'none'] },
  });
  stats.release(); // as partials: reuse is ordered after the normalise dispatch
}

/**
 * GroupNorm of images held as row tiles: tiles[i] [N, rows_i, W, C] holds rows i of every sample (same N, W, C in
 * every tile). Equal to groupNorm over the tiles concatenated along H: the statistics of each (sample, group) are
 * those of the whole image, never of one tile. Two passes: every tile's stats dispatch writes its partials into its
 * own range of one partials buffer (`chunkBase`), one finalize merges all of them (Chan), then each tile is
 * normalised into its own output. Each tile must be bindable on its own; the whole image never is bound.
 */
export function groupNormRowTiles(e: Engine, tiles: readonly Tensor[], gamma: Tensor, beta: Tensor, o: GroupNormOptions): Tensor[] {
  if (tiles.length === 1) return [groupNorm(e, tiles[0], gamma, beta, o)];
  const geos = tiles.map((t) => geometry(t, gamma, beta, o));
  const [N, , W, C] = tiles[0].shape;
  for (const t of tiles) {
    if (t.shape.length !== 4 || t.shape[0] !== N || t.shape[2] !== W || t.shape[3] !== C || t.dtype !== tiles[0].dtype) {
      throw new RangeError(`groupNormRowTiles: tile ${fmtShape(t.shape)} does not match [${N}, rows, ${W}, ${C}] ${tiles[0].dtype}`);
    }
    if (t.byteLength > e.maxBindingBytes) throw new RangeError(`groupNormRowTiles: tile ${fmtShape(t.shape)} (${t.byteLength} bytes) exceeds the ${e.maxBindingBytes}-byte binding limit`);
  }
  const { G, cg, domains } = geos[0];
  const domainGroups = domains * G;
  const maxWg = e.limits.maxComputeWorkgroupsPerDimension;
  if (domainGroups > maxWg) throw new RangeError(`groupNormRowTiles: ${domains} statistics domains × ${G} groups exceed ${maxWg} workgroups`);
  const split = geos.map((g) => {
    let rowsPerChunk = Math.max(1, Math.ceil(VALUES_PER_CHUNK / cg));
    let chunks = Math.ceil(g.rows / rowsPerChunk);
    if (chunks > maxWg) { chunks = maxWg; rowsPerChunk = Math.ceil(g.rows / chunks); chunks = Math.ceil(g.rows / rowsPerChunk); }
    return { rowsPerChunk, chunks };
  });
  const total = split.reduce((s, c) => s + c.chunks, 0);
  const vec4 = C % 4 === 0;
  const paramsOf = (g: Geometry, rowsPerChunk: number, chunkBase: number, threads: number) =>
    new Params().u32(g.rows).u32(C).u32(G).u32(cg).u32(total).u32(rowsPerChunk).u32(threads).f32(o.eps).u32(chunkBase).bytes();
  const partials = e.empty([domainGroups * total * 3], 'f32', 'groupnorm partials');
  const stats = e.empty([domainGroups * 2], 'f32', 'groupnorm stats');
  let base = 0;
  for (const [i, t] of tiles.entries()) {
    e.dispatch({ kernel: STATS, dtype: t.dtype, bindings: [paramsOf(geos[i], split[i].rowsPerChunk, base, 0), t, partials], workgroups: [split[i].chunks, domainGroups] });
    base += split[i].chunks;
  }
  e.dispatch({ kernel: FINALIZE, dtype: tiles[0].dtype, bindings: [paramsOf(geos[0], 1, 0, 0), partials, stats], workgroups: [domainGroups] });
  partials.release();
  const outs = tiles.map((t, i) => {
    const out = e.empty(t.shape, t.dtype);
    const threads = vec4 ? t.size / 4 : t.size;
    e.dispatch({
      kernel: vec4 ? NORMALIZE4 : NORMALIZE, dtype: t.dtype, bindings: [paramsOf(geos[i], 1, 0, threads), t, stats, gamma, beta, out],
      workgroups: e.grid(threads, WG), constants: { ACT: ACTIVATION_ID[o.act ?? 'none'] },
    });
    return out;
  });
  stats.release();
  return outs;
}

/**
 * The same GroupNorm as one straightforward dispatch: one workgroup per (sample, group) reads its values three
 * times (mean, centred variance, normalise). Correct but poorly parallel when groups are few and large
 * (pooled frames); the benchmark's baseline for `groupNorm`.
 */
export function groupNormPlain(e: Engine, x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): Tensor {
  const { C, G, cg, domains, rows } = geometry(x, gamma, beta, o);
  const maxWg = e.limits.maxComputeWorkgroupsPerDimension;
  if (domains * G > maxWg) throw new RangeError(`groupNormPlain: ${domains} samples × ${G} groups exceeds ${maxWg} workgroups`);
  const params = new Params().u32(rows).u32(C).u32(G).u32(cg).u32(1).u32(rows).u32(x.size).f32(o.eps).u32(0).bytes();
  const out = e.empty(x.shape, x.dtype);
  e.dispatch({
    kernel: PLAIN, dtype: x.dtype, bindings: [params, x, gamma, beta, out],
    workgroups: [domains * G], constants: { ACT: ACTIVATION_ID[o.act ?? 'none'] },
  });
  return out;
}
