// The chunking decisions of a run: how work is split so that no tensor a kernel binds exceeds the adapter's
// binding limit (`maxStorageBufferBindingSize`, or a smaller `maxTensorBytes` that tests force). The models ask
// these functions (they never decide on their own), and `planRun` reports the same decisions per UNet level.
//
//   samples per pass   the batch (CFG halves, videos) runs one sample at a time when a whole batch would not fit
//   spatial frames     ResNets and spatial transformers are per frame: they run over chunks of frames
//   motion positions   a motion module's attention is per position (h·w) over all frames: chunks of positions
//   feed-forward rows  GEGLU feed-forwards are row-wise: chunks of rows (their hidden state is 8C wide)
//   VAE rows           the VAE decoder runs its convs over row tiles with halos (see models/vae-decoder.ts)
import { KindedError } from '../errors';
import type { UNetTopology } from '../models/config';

/** What a chunk must fit: the largest tensor, and the storage-offset alignment of a chunk's start. */
export interface ChunkLimits {
  maxTensorBytes: number;
  /** minStorageBufferOffsetAlignment (bytes). */
  align: number;
  /** Bytes per activation value (2 for f16, 4 for f32). */
  bytesPerValue: number;
}

/** A run that cannot be split small enough: even one unit of work is over the limit. */
export class ChunkingError extends KindedError {
  constructor(message: string) {
    super('capability', message);
  }
}

/**
 * Rows per chunk for rows of `widestRowBytes` bytes (of the widest tensor a chunk makes) under `maxTensorBytes`,
 * rounded down so every chunk's start offset in a tensor of `rowElems` values per row stays storage-offset aligned.
 * At least one aligned step; throws ChunkingError when even that does not fit.
 */
export function rowsPerChunk(lim: ChunkLimits, widestRowBytes: number, rowElems: number, what: string): number {
  const rowBytes = rowElems * lim.bytesPerValue;
  let step = 1;
  while ((step * rowBytes) % lim.align !== 0) step++;
  const fit = Math.floor(lim.maxTensorBytes / widestRowBytes);
  const rows = Math.floor(fit / step) * step;
  if (rows < 1) throw new ChunkingError(`${what}: ${step} row(s) of ${widestRowBytes} bytes exceed the ${lim.maxTensorBytes}-byte limit of one tensor`);
  return rows;
}

/** Units per chunk when each unit makes `unitBytes` of the widest tensor: all of them when they fit, else as many as fit. */
export function unitsPerChunk(lim: ChunkLimits, unitBytes: number, units: number, what: string): number {
  const fit = Math.floor(lim.maxTensorBytes / unitBytes);
  if (fit < 1) throw new ChunkingError(`${what}: one unit needs ${unitBytes} bytes, over the ${lim.maxTensorBytes}-byte limit of one tensor`);
  return Math.min(units, fit);
}

/** Channel widths (values per pixel) of the widest tensors of one UNet level's layers. */
export interface LevelWidths {
  /** Resolution level (0 = full latent size, each downsampler +1). */
  level: number;
  /** Latent size at this level (⌈h/2^level⌉ × ⌈w/2^level⌉). */
  h: number;
  w: number;
  /** Widest tensor of a spatial layer (ResNet input/concat, fused QKV of a spatial transformer), values per pixel. */
  spatial: number;
  /** Widest tensor of a motion module's attention (fused QKV: 3C), values per pixel per frame; 0 without motion. */
  motion: number;
  /** Widest feed-forward hidden state (GEGLU: 8C), values per pixel; 0 without transformers. */
  ff: number;
  /** Channels of the widest whole-frame tensor of this level (running state, skip, layer output): never chunked. */
  hidden: number;
}

/** Every level's widths, walking the topology as the UNet runs it (skip stack included). */
export function levelWidths(topo: UNetTopology, h: number, w: number): LevelWidths[] {
  const levels = new Map<number, LevelWidths>();
  let H = h, W = w, level = 0;
  const at = () => {
    let l = levels.get(level);
    if (!l) { l = { level, h: H, w: W, spatial: 0, motion: 0, ff: 0, hidden: 0 }; levels.set(level, l); }
    return l;
  };
  // A layer's input: the running state, plus the skip it concatenates (up blocks; the concat is made per chunk).
  const layer = (ch: number, skip: number, c: number, attention: boolean, motion: boolean) => {
    const l = at();
    l.spatial = Math.max(l.spatial, ch + skip, c, attention ? 3 * c : 0);
    l.hidden = Math.max(l.hidden, ch, skip, c);
    if (motion) l.motion = Math.max(l.motion, 3 * c);
    if (attention || motion) l.ff = Math.max(l.ff, 8 * c);
  };
  const stack = [topo.stemChannels];
  let ch = topo.stemChannels;
  at().hidden = Math.max(at().hidden, ch, topo.inChannels);
  for (const b of topo.down) {
    for (let i = 0; i < b.layers; i++) {
      layer(ch, 0, b.channels, b.attention, b.motionModules > 0);
      ch = b.channels;
      stack.push(ch);
    }
    if (b.resample) {
      H = Math.ceil(H / 2); W = Math.ceil(W / 2); level++;
      stack.push(ch);
    }
  }
  layer(ch, 0, topo.mid.channels, topo.mid.attention, topo.mid.motion);
  ch = topo.mid.channels;
  const sizes: [number, number][] = [];
  { let hh = h, ww = w; for (let l = 0; l <= level; l++) { sizes.push([hh, ww]); hh = Math.ceil(hh / 2); ww = Math.ceil(ww / 2); } }
  for (const b of topo.up) {
    for (let i = 0; i < b.layers; i++) {
      layer(ch, stack.pop() ?? 0, b.channels, b.attention, b.motionModules > 0);
      ch = b.channels;
    }
    if (b.resample && level > 0) {
      level--;
      [H, W] = sizes[level];
      at().hidden = Math.max(at().hidden, ch);
    }
  }
  return [...levels.values()].sort((a, b) => a.level - b.level);
}

/** The chunking of one UNet level for a run. */
export interface LevelChunking extends LevelWidths {
  /** Frames per spatial-layer chunk (of one sample when samplesPerPass = 1). */
  spatialFrames: number;
  /** Positions (of h·w) per motion-module attention chunk. */
  motionPositions: number;
  /** Rows (frame·position) per feed-forward chunk. */
  ffRows: number;
}

export interface UNetChunking {
  /** Samples of the batch per UNet pass. */
  samplesPerPass: number;
  levels: LevelChunking[];
}

/**
 * The UNet's chunking for `batch` samples × `frames` frames of h×w latents. `pooledFrames`: the ResNet GroupNorms
 * pool statistics over the frames of a sample (official v1), so spatial layers cannot be split by frames.
 */
export function planUNetChunking(
  topo: UNetTopology, run: { batch: number; frames: number; h: number; w: number; pooledFrames?: boolean }, lim: ChunkLimits,
): UNetChunking {
  const { batch, frames } = run;
  const bpv = lim.bytesPerValue;
  const levels = levelWidths(topo, run.h, run.w);
  // A whole-frame tensor (running state, skip) of one pass must be bindable: it is what every layer reads.
  const perSample = Math.max(...levels.map((l) => frames * l.h * l.w * Math.max(l.spatial, l.motion)));
  const samplesPerPass = perSample * batch * bpv <= lim.maxTensorBytes ? batch : 1;
  const rows = samplesPerPass * frames;
  for (const l of levels) {
    if (rows * l.h * l.w * l.hidden * bpv > lim.maxTensorBytes) {
      throw new ChunkingError(`${frames} frames of ${l.h}×${l.w} latents × ${l.hidden} channels need a ${rows * l.h * l.w * l.hidden * bpv}-byte tensor (UNet level ${l.level}), over the ${lim.maxTensorBytes}-byte binding limit`);
    }
  }
  return {
    samplesPerPass,
    levels: levels.map((l) => {
      const P = l.h * l.w;
      const spatialFrames = run.pooledFrames
        ? (rows * P * l.spatial * bpv <= lim.maxTensorBytes ? rows : (() => { throw new ChunkingError(`v1 ResNets pool GroupNorm statistics over all ${frames} frames; their ${rows * P * l.spatial * bpv}-byte inputs exceed the ${lim.maxTensorBytes}-byte binding limit`); })())
        : unitsPerChunk(lim, P * l.spatial * bpv, rows, `spatial layers at ${l.h}×${l.w}`);
      const motionPositions = l.motion ? unitsPerChunk(lim, rows * l.motion * bpv, P, `motion module at ${l.h}×${l.w}`) : P;
      const ffRows = l.ff ? Math.min(rows * P, rowsPerChunk(lim, l.ff * bpv, l.hidden, `feed-forward at ${l.h}×${l.w}`)) : rows * P;
      return { ...l, spatialFrames, motionPositions, ffRows };
    }),
  };
}
