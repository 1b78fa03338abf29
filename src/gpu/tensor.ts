import type { Engine } from './engine';

/** Element type of a tensor on the GPU. Compute uses f16 where the device has `shader-f16`, f32 otherwise. */
export type DType = 'f32' | 'f16';

export const bytesPerElement = (dtype: DType): number => (dtype === 'f16' ? 2 : 4);

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * A dense, row-major tensor living in one GPU buffer (or a 256-byte-aligned slice of one).
 * Owning tensors come from the engine's buffer pool and go back with `release()`; views made by
 * `reshape` share the buffer and own nothing. Lifetimes are explicit: whoever receives an owning
 * tensor from an op releases it when done (the memory planner will make this automatic).
 */
export class Tensor {
  readonly size: number;
  private released = false;

  constructor(
    readonly engine: Engine,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly byteOffset = 0,
    private readonly owned = true,
  ) {
    this.size = numel(shape);
  }

  get byteLength(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  /** Binding for a bind group; sizes are rounded up to 4 bytes as WebGPU requires. */
  binding(): GPUBufferBinding {
    this.assertAlive();
    return { buffer: this.buffer, offset: this.byteOffset, size: Math.max(4, Math.ceil(this.byteLength / 4) * 4) };
  }

  /** Same data, new shape (row-major, no copy). The view does not own the buffer. */
  reshape(shape: readonly number[]): Tensor {
    this.assertAlive();
    const resolved = resolveShape(shape, this.size);
    return new Tensor(this.engine, this.buffer, resolved, this.dtype, this.byteOffset, false);
  }

  /**
   * A view of rows [start, start+count) along dim 0. The byte offset must respect the device's
   * storage-buffer offset alignment (256 bytes on most devices).
   */
  slice0(start: number, count: number): Tensor {
    this.assertAlive();
    const rowElems = this.size / this.shape[0];
    const offset = this.byteOffset + start * rowElems * bytesPerElement(this.dtype);
    if (offset % this.engine.limits.minStorageBufferOffsetAlignment !== 0) {
      throw new RangeError(`slice0(${start}) of ${fmtShape(this.shape)} is not ${this.engine.limits.minStorageBufferOffsetAlignment}-byte aligned`);
    }
    return new Tensor(this.engine, this.buffer, [count, ...this.shape.slice(1)], this.dtype, offset, false);
  }

  /** Give the buffer back to the pool. Views do nothing. Double release is a bug and throws. */
  release(): void {
    if (!this.owned) return;
    this.assertAlive();
    this.released = true;
    this.engine.pool.release(this.buffer);
  }

  get isReleased(): boolean {
    return this.released;
  }

  toString(): string {
    return `Tensor<${this.dtype}>${fmtShape(this.shape)}`;
  }

  private assertAlive(): void {
    if (this.released) throw new Error(`use of released ${this.toString()}`);
  }
}

export const fmtShape = (shape: readonly number[]): string => `[${shape.join(',')}]`;

function resolveShape(shape: readonly number[], size: number): number[] {
  const out = [...shape];
  const infer = out.indexOf(-1);
  if (infer >= 0) out[infer] = size / numel(out.filter((d) => d !== -1));
  if (numel(out) !== size || !out.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`cannot reshape ${size} elements to ${fmtShape(shape)}`);
  }
  return out;
}
