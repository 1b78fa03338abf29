/**
 * A pool of storage buffers bucketed by size (quarter steps between powers of two: 2^k·{1, 1.25, 1.5, 1.75}, so a
 * buffer wastes at most 25 %). A request takes the smallest idle buffer of at least its bucket and at most twice
 * it (best fit), else a new one; `trim()` destroys idle ones. Measured with the planner on SD1.5 at 512²×16, CFG,
 * f16: UNet activations 1.52 GiB with power-of-two buckets and same-bucket reuse, 1.10 GiB with these. Buffers
 * are never shared while in use: the pool only hands out a buffer after its owner released it, and WebGPU orders
 * later writes after earlier reads.
 *
 * 'exact' requests (uploads: weights, inputs) get a buffer of their own size rounded to 16 bytes, kept in the
 * free list of that size. The pool tracks the bytes of every buffer it created (in use or idle) and their
 * peak: what the run costs the GPU (`src/plan` predicts the same figure).
 */
/**
 * Offsets of the pooled allocations of one scope (a UNet evaluation) in one arena buffer, by allocation order: the
 * memory planner records a scope's allocations and lifetimes on its null device and packs them by liveness
 * (src/plan/arena.ts); the engine replays the plan. WebGPU forbids binding one buffer writable together with any
 * other use in the same dispatch (and copying a buffer into itself), so tensors that meet in a dispatch or a copy
 * go to different slabs (buffers). `sizes` guard the replay: the first allocation whose size
 * differs from the plan's ends the replay for that scope (the pool takes over), so a plan can cost memory but never
 * correctness.
 */
export interface ArenaPlan {
  /** Bytes of each arena buffer (slab). */
  slabs: readonly number[];
  sizes: readonly number[];
  /** Slab and byte offset of each allocation. */
  slab: readonly number[];
  offsets: readonly number[];
}

/** One allocation of a recorded scope: its bytes and its lifetime in allocation/release events (end: never released). */
export interface ScopeAllocation {
  bytes: number;
  start: number;
  end: number;
}

/** Arena allocations are placed on this alignment (≥ every device's minStorageBufferOffsetAlignment). */
export const ARENA_ALIGN = 256;

/** A request may reuse an idle buffer up to this many times its size (best fit first). */
const REUSE_SLACK = 2;

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly inUse = new Set<GPUBuffer>();
  private idleBytes = 0;
  private liveBytes = 0;
  private peak = 0;
  private peakSinceTrim = 0;

  private arenas: GPUBuffer[] = [];
  /** The scope being replayed: its plan, the next allocation index, and whether it still follows the plan. */
  private replay: { plan: ArenaPlan; next: number; on: boolean } | null = null;
  private arenaLive = 0;
  /** Scopes whose allocations left their arena plan (a stale or mismatched plan: the pool took over). */
  private arenaFallbacks = 0;
  private recording: {
    allocs: ScopeAllocation[]; open: Map<GPUBuffer, number>; together: [number, number][]; clock: number; active: boolean; done: boolean;
  } | null = null;

  constructor(private readonly device: GPUDevice, private readonly maxBufferSize: number) {}

  /** Record the allocations of the next scope (the planner's trace); `takeRecording` returns them. */
  startRecording(): void {
    this.recording = { allocs: [], open: new Map(), together: [], clock: 0, active: false, done: false };
  }

  /** The recorded scope: allocations, and the pairs of them bound in one dispatch or copy (must not share a slab). */
  takeRecording(): { allocs: ScopeAllocation[]; together: [number, number][] } | null {
    const r = this.recording;
    this.recording = null;
    return r?.done ? { allocs: r.allocs, together: r.together } : null;
  }

  /** While recording: these buffers are used by one dispatch or copy; those at `writable` indices are written. */
  noteTogether(buffers: readonly GPUBuffer[], writable: readonly number[]): void {
    const r = this.recording;
    if (!r?.active) return;
    const id = (b: GPUBuffer) => r.open.get(b);
    for (const w of writable) {
      const a = buffers[w] && id(buffers[w]);
      if (a === undefined) continue;
      for (const [i, b] of buffers.entries()) {
        const o = id(b);
        if (i !== w && o !== undefined && o !== a) r.together.push([a, o]);
      }
    }
  }

  get recordingActive(): boolean {
    return this.recording?.active ?? false;
  }

  /**
   * Begin a scope: its pooled (bucket) allocations follow `plan` in one arena buffer, or are recorded when recording.
   * No plan, a plan over maxBufferSize, or arena allocations of an earlier scope still alive: the pool as usual.
   */
  beginScope(plan?: ArenaPlan | null): void {
    if (this.recording && !this.recording.done) this.recording.active = true;
    if (!plan || plan.slabs.some((b) => b > this.maxBufferSize) || this.arenaLive > 0) return;
    plan.slabs.forEach((bytes, i) => {
      const old = this.arenas[i];
      if (old && old.size >= bytes) return;
      if (old) { old.destroy(); this.liveBytes -= old.size; }
      this.arenas[i] = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: `arena ${i}` });
      this.liveBytes += bytes;
      this.peak = Math.max(this.peak, this.liveBytes);
      this.peakSinceTrim = Math.max(this.peakSinceTrim, this.liveBytes);
    });
    this.replay = { plan, next: 0, on: true };
  }

  endScope(): void {
    this.replay = null;
    if (this.recording?.active) {
      this.recording.active = false;
      this.recording.done = true;
    }
  }

  /** A buffer (and the offset in it) for `bytes`: the arena slot the plan gives, else a pooled buffer. */
  take(bytes: number, label?: string): { buffer: GPUBuffer; offset: number } {
    const r = this.replay;
    if (r?.on) {
      const k = r.next++;
      if (k < r.plan.sizes.length && r.plan.sizes[k] === bytes) {
        this.arenaLive++;
        return { buffer: this.arenas[r.plan.slab[k]], offset: r.plan.offsets[k] };
      }
      r.on = false;
      this.arenaFallbacks++;
    }
    const buffer = this.acquire(bytes, label);
    const rec = this.recording;
    if (rec?.active) {
      rec.open.set(buffer, rec.allocs.length);
      rec.allocs.push({ bytes, start: rec.clock++, end: Infinity });
    }
    return { buffer, offset: 0 };
  }

  static bucket(bytes: number): number {
    const n = Math.max(256, bytes);
    const step = 2 ** Math.max(6, Math.floor(Math.log2(n)) - 2);
    return Math.ceil(n / step) * step;
  }

  /** Bytes of the buffer a request of `bytes` gets. */
  static sizeFor(bytes: number, mode: 'bucket' | 'exact' = 'bucket'): number {
    return mode === 'exact' ? Math.max(16, Math.ceil(bytes / 16) * 16) : BufferPool.bucket(bytes);
  }

  acquire(bytes: number, label?: string, mode: 'bucket' | 'exact' = 'bucket'): GPUBuffer {
    const size = BufferPool.sizeFor(bytes, mode);
    if (size > this.maxBufferSize) {
      throw new RangeError(`buffer of ${bytes} bytes exceeds the device's maxBufferSize ${this.maxBufferSize}`);
    }
    let buf: GPUBuffer | undefined;
    if (mode === 'bucket') {
      // best fit among idle buffers up to REUSE_SLACK × the request
      let best = 0;
      for (const [s, l] of this.free) if (l.length && s >= size && s <= size * REUSE_SLACK && (!best || s < best)) best = s;
      if (best) buf = this.free.get(best)!.pop();
    } else {
      buf = this.free.get(size)?.pop();
    }
    if (buf) {
      this.idleBytes -= buf.size;
    } else {
      buf = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label,
      });
      this.liveBytes += size;
      this.peak = Math.max(this.peak, this.liveBytes);
      this.peakSinceTrim = Math.max(this.peakSinceTrim, this.liveBytes);
    }
    this.inUse.add(buf);
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (this.arenas.includes(buf)) {
      this.arenaLive--;
      return;
    }
    const rec = this.recording;
    const id = rec?.open.get(buf);
    if (rec && id !== undefined) {
      rec.allocs[id].end = rec.clock++;
      rec.open.delete(buf);
    }
    if (!this.inUse.delete(buf)) throw new Error('buffer released twice or not from this pool');
    const list = this.free.get(buf.size) ?? [];
    list.push(buf);
    this.free.set(buf.size, list);
    this.idleBytes += buf.size;
  }

  /** Destroy idle buffers (e.g. between generations or after a failure), and the arena when nothing lives in it. */
  trim(): void {
    if (this.arenaLive === 0 && !this.replay) {
      for (const a of this.arenas) { a.destroy(); this.liveBytes -= a.size; }
      this.arenas = [];
    }
    for (const list of this.free.values()) for (const b of list) { b.destroy(); this.liveBytes -= b.size; }
    this.free.clear();
    this.idleBytes = 0;
    this.peakSinceTrim = this.liveBytes;
  }

  /** Start a new peak measurement from what is allocated now. */
  resetPeak(): void {
    this.peak = this.liveBytes;
    this.peakSinceTrim = this.liveBytes;
  }

  /**
   * liveBytes: every buffer the pool created and has not destroyed (in use + idle); peakBytes: its maximum since
   * creation or `resetPeak`; peakSinceTrimBytes: its maximum since the last `trim` (a phase of a run, e.g. the decode);
   * arenaFallbacks: scopes so far whose allocations left the arena plan they replayed (0 when the plan was right).
   */
  stats(): { liveBytes: number; idleBytes: number; peakBytes: number; peakSinceTrimBytes: number; buffersInUse: number; arenaFallbacks: number } {
    return { liveBytes: this.liveBytes, idleBytes: this.idleBytes, peakBytes: this.peak, peakSinceTrimBytes: this.peakSinceTrim, buffersInUse: this.inUse.size, arenaFallbacks: this.arenaFallbacks };
  }
}
