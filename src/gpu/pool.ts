/**
 * A pool of storage buffers bucketed by size (powers of two up to 64 MiB, then 16 MiB steps, so the
 * waste stays bounded for large activations). Released buffers are reused by later requests of the
 * same bucket; `trim()` destroys idle ones. Buffers are never shared while in use: the pool only
 * hands out a buffer after its owner released it, and WebGPU orders later writes after earlier reads.
 *
 * 'exact' requests (uploads: weights, inputs) get a buffer of their own size rounded to 16 bytes, kept in the
 * free list of that size. The pool tracks the bytes of every buffer it created (in use or idle) and their
 * peak: what the run costs the GPU (`src/plan` predicts the same figure).
 */
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
    const MiB = 1 << 20;
    if (n <= 64 * MiB) return 2 ** Math.ceil(Math.log2(n));
    return Math.ceil(n / (16 * MiB)) * 16 * MiB;
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
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.idleBytes -= size;
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
