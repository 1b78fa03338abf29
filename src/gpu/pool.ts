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
/** A request may reuse an idle buffer up to this many times its size (best fit first). */
const REUSE_SLACK = 2;

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly inUse = new Set<GPUBuffer>();
  private idleBytes = 0;
  private liveBytes = 0;
  private peak = 0;
  private peakSinceTrim = 0;

  constructor(private readonly device: GPUDevice, private readonly maxBufferSize: number) {}

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
    if (!this.inUse.delete(buf)) throw new Error('buffer released twice or not from this pool');
    const list = this.free.get(buf.size) ?? [];
    list.push(buf);
    this.free.set(buf.size, list);
    this.idleBytes += buf.size;
  }

  /** Destroy idle buffers (e.g. between generations or after a failure). */
  trim(): void {
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
   * creation or `resetPeak`; peakSinceTrimBytes: its maximum since the last `trim` (a phase of a run, e.g. the decode).
   */
  stats(): { liveBytes: number; idleBytes: number; peakBytes: number; peakSinceTrimBytes: number; buffersInUse: number } {
    return { liveBytes: this.liveBytes, idleBytes: this.idleBytes, peakBytes: this.peak, peakSinceTrimBytes: this.peakSinceTrim, buffersInUse: this.inUse.size };
  }
}
