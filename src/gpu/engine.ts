import {
  DeviceLostError, GpuCapabilityError, GpuOutOfMemoryError, GpuUnavailableError, GpuValidationError, GpuWorkAbandonedError,
  ShaderCompileError,
} from './errors';
import { fromF16Array, toF16Array } from './half';
import { type Constants, type Kernel, pipelineKey, wgslPrelude } from './kernel';
import { BufferPool } from './pool';
import { bytesPerElement, type DType, fmtShape, numel, Tensor } from './tensor';

export interface EngineOptions {
  /** 'auto' picks f16 where the adapter has `shader-f16`. */
  precision?: 'auto' | 'f16' | 'f32';
  powerPreference?: GPUPowerPreference;
  /** Most dispatches recorded before an automatic submit. */
  dispatchesPerSubmit?: number;
  /**
   * GPU time (ms, estimated from the submits measured so far) one submit aims at, and the most the queue may hold
   * ahead of the GPU: the rest waits in the engine's backlog, so `abandonQueued()` stops a run within about that
   * time on any adapter. Defaults 100 and 1000.
   */
  targetSubmitMs?: number;
  maxQueuedMs?: number;
  /**
   * Bind at most this many bytes per storage binding, below the device's `maxStorageBufferBindingSize` (tests force
   * a small limit to exercise the splitting paths). Default: the device's limit.
   */
  maxBindingBytes?: number;
}

export interface EngineFeatures {
  f16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

export type Binding = Tensor | GPUBufferBinding;

export interface DispatchSpec {
  kernel: Kernel;
  /** Binding i of group 0 is `bindings[i]`. Uniform params (from `Params.bytes()`) go in as ArrayBuffer. */
  bindings: (Binding | ArrayBuffer)[];
  /** Workgroup counts, each at most maxComputeWorkgroupsPerDimension (see `grid`). */
  workgroups: readonly [number, number?, number?];
  constants?: Constants;
  /** Storage dtype for `T`; the engine's compute dtype unless given. */
  dtype?: DType;
}

const UNIFORM_ARENA_BYTES = 1 << 16;

/** Work in submission order: command buffers (with the uniform bytes they bind) and buffer writes between them. */
type QueuedOp =
  | { kind: 'submit'; cmd: GPUCommandBuffer; uniforms: Uint8Array; dispatches: number }
  | { kind: 'write'; buffer: GPUBuffer; offset: number; bytes: Uint8Array };

/** Before any submit has been measured: this many dispatches per submit, at most two submits queued. */
const UNMEASURED_BATCH = 16;
const UNMEASURED_IN_FLIGHT = 2;

/**
 * The GPU engine: one device, a pipeline cache, a buffer pool, dispatch batching and readback.
 * Runs unchanged in a browser Worker (`navigator.gpu`) and in Node (`webgpu` package's `create()`).
 *
 * Errors: validation and out-of-memory errors are captured in error scopes that stay open between
 * sync points and are raised as typed errors at the next `sync()`/`read()`; device loss makes every
 * later call throw DeviceLostError. A lost or failed engine is thrown away and rebuilt with `create`.
 */
export class Engine {
  readonly pool: BufferPool;
  readonly maxBindingBytes: number;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly compileChecks: Promise<void>[] = [];
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInBatch = 0;
  private uniformArena: GPUBuffer;
  /** The uniforms of the batch being recorded; written to the arena just before its submit. */
  private readonly uniformShadow = new Uint8Array(UNIFORM_ARENA_BYTES);
  private uniformOffset = 0;
  /**
   * Flow control. A step of a large model records thousands of dispatches synchronously; submitted at once they
   * would queue minutes of GPU work on a slow adapter that nothing can take back (a cancelled run, or a closed
   * worker, leaves the GPU process busy until it is all done). So only about `maxQueuedMs` of estimated work is
   * submitted ahead of the GPU; the rest waits in `backlog` and goes out as earlier submits complete.
   */
  private readonly backlog: QueuedOp[] = [];
  private readonly inFlight: { dispatches: number; estimateMs: number; submittedAt: number }[] = [];
  private lastDoneAt = 0;
  /** Measured GPU ms per dispatch (moving average); null until a submit completes. */
  private msPerDispatch: number | null = null;
  private backlogWaiters: (() => void)[] = [];
  /** Bumped by abandonQueued(); a read() that spans a bump returns no data. */
  private abandonEpoch = 0;
  private readonly targetSubmitMs: number;
  private readonly maxQueuedMs: number;
  private lostError: DeviceLostError | null = null;
  private scopesOpen = false;
  private timing: { querySet: GPUQuerySet; used: number; capacity: number } | null = null;
  private readonly dispatchesPerSubmit: number;
  /** Count of dispatches since creation: cheap instrumentation for tests and the benchmark. */
  dispatchCount = 0;
  submitCount = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: { vendor: string; architecture: string; device: string; description: string },
    readonly dtype: DType,
    readonly features: EngineFeatures,
    opts: EngineOptions,
  ) {
    // The adapter's real limits (requested at device creation); tests may lower the binding limit.
    this.maxBindingBytes = Math.min(device.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
    this.pool = new BufferPool(device, device.limits.maxBufferSize);
    this.dispatchesPerSubmit = opts.dispatchesPerSubmit ?? 128;
    this.targetSubmitMs = opts.targetSubmitMs ?? 100;
    this.maxQueuedMs = opts.maxQueuedMs ?? 1000;
    this.uniformArena = this.createUniformArena();
    device.lost.then((info) => {
      this.lostError = new DeviceLostError(info.reason ?? 'unknown', info.message);
      // Nothing more will complete: let waiters see the loss.
      this.backlog.length = 0;
      this.inFlight.length = 0;
      this.wakeBacklogWaiters();
    });
    this.openScopes();
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  static async create(gpu: GPU | undefined, opts: EngineOptions = {}): Promise<Engine> {
    if (!gpu) throw new GpuUnavailableError('WebGPU is not available in this browser. Use a recent Chrome, Edge or Safari with WebGPU enabled.');
    const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
    if (!adapter) throw new GpuUnavailableError('No WebGPU adapter was found: the GPU may be blocklisted or disabled.');
    const has = (f: string) => adapter.features.has(f as GPUFeatureName);
    const precision = opts.precision ?? 'auto';
    if (precision === 'f16' && !has('shader-f16')) {
      throw new GpuCapabilityError('f16 precision was requested but this GPU has no shader-f16 support; use f32.');
    }
    const f16 = precision !== 'f32' && has('shader-f16');
    const features: GPUFeatureName[] = [];
    if (f16) features.push('shader-f16');
    if (has('subgroups')) features.push('subgroups' as GPUFeatureName);
    if (has('timestamp-query')) features.push('timestamp-query');
    const a = adapter.limits;
    const requiredLimits: Record<string, number> = {
      maxBufferSize: a.maxBufferSize,
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupSizeZ: a.maxComputeWorkgroupSizeZ,
      maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    };
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
    } catch (e) {
      throw new GpuUnavailableError(`Could not create a WebGPU device: ${(e as Error).message}`, { cause: e });
    }
    const info = adapter.info ?? ({} as GPUAdapterInfo);
    return new Engine(
      device,
      { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' },
      f16 ? 'f16' : 'f32',
      { f16, subgroups: features.includes('subgroups' as GPUFeatureName), timestampQuery: features.includes('timestamp-query') },
      opts,
    );
  }

  /**
   * An engine over a device made elsewhere: the memory planner's null device (src/plan/null-device.ts), which records
   * allocations but runs nothing.
   */
  static fromDevice(device: GPUDevice, dtype: DType, opts: EngineOptions & { adapterName?: string; simulated?: boolean } = {}): Engine {
    const f16 = dtype === 'f16';
    const e = new Engine(device, { vendor: '', architecture: '', device: opts.adapterName ?? '', description: '' }, dtype,
      { f16, subgroups: false, timestampQuery: false }, opts);
    e.simulated = opts.simulated ?? false;
    return e;
  }

  /** True on the planner's null device: nothing runs, so host-side data preparation (conversions) is skipped. */
  simulated = false;

  /** A readable name for logs and benchmark tables. */
  get adapterName(): string {
    const i = this.adapterInfo;
    return [i.vendor, i.architecture, i.description || i.device].filter(Boolean).join(' / ') || 'unknown adapter';
  }

  // ---------------------------------------------------------------- tensors

  /** An uninitialised tensor from the pool. */
  empty(shape: readonly number[], dtype: DType = this.dtype, label?: string): Tensor {
    this.assertUsable();
    const bytes = numel(shape) * bytesPerElement(dtype);
    const { buffer, offset } = this.pool.take(bytes, label);
    return new Tensor(this, buffer, shape, dtype, offset);
  }

  /**
   * Upload host data (f32 values, or f16 bit patterns as Uint16Array; converted to `dtype`) into a new tensor.
   * Uploads (weights, inputs) get a buffer of their exact size, not a pool bucket: weights live for the whole run,
   * and a power-of-two bucket would waste up to half of their memory.
   */
  upload(data: Float32Array | Uint16Array, shape: readonly number[], dtype: DType = this.dtype, label?: string): Tensor {
    if (data.length !== numel(shape)) throw new RangeError(`upload: ${data.length} values for shape ${fmtShape(shape)}`);
    this.assertUsable();
    const t = new Tensor(this, this.pool.acquire(numel(shape) * bytesPerElement(dtype), label, 'exact'), shape, dtype);
    this.write(t, data);
    return t;
  }

  /** Overwrite a tensor's contents from the host (f32 values or f16 bits, converted to its dtype); ordered with the queued GPU work. */
  write(t: Tensor, data: Float32Array | Uint16Array): void {
    this.assertUsable();
    if (this.simulated) return;
    let bytes: Float32Array | Uint16Array;
    if (t.dtype === 'f16') bytes = data instanceof Uint16Array ? data : toF16Array(data);
    else bytes = data instanceof Float32Array ? data : fromF16Array(data);
    // Work recorded before this write must be submitted first so queue order matches program order.
    this.flush();
    const padded = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes as Uint16Array);
    if (this.backlog.length === 0) {
      this.device.queue.writeBuffer(t.buffer, t.byteOffset, padded.buffer, padded.byteOffset, padded.byteLength);
    } else {
      // Earlier work still waits in the backlog: the write waits behind it (a copy: the caller may reuse `data`).
      this.backlog.push({ kind: 'write', buffer: t.buffer, offset: t.byteOffset, bytes: new Uint8Array(padded.buffer, padded.byteOffset, padded.byteLength).slice() });
    }
  }

  /** Write raw bytes (packed quantized weights, scales) at the start of a pool buffer; ordered with queued work. */
  writeBytes(buffer: GPUBuffer, data: ArrayBufferView): void {
    this.assertUsable();
    if (this.simulated) return;
    this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : (() => { const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4); p.set(bytes); return p; })();
    this.device.queue.writeBuffer(buffer, 0, padded.buffer, padded.byteOffset, padded.byteLength);
  }

  /** Read a tensor back as f32 values: submits pending work and raises any captured GPU error. */
  async read(t: Tensor): Promise<Float32Array> {
    this.assertUsable();
    const size = Math.ceil(t.byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    this.getEncoder().copyBufferToBuffer(t.buffer, t.byteOffset, staging, 0, size);
    this.flush();
    const epoch = this.abandonEpoch;
    try {
      await this.sync();
      if (this.abandonEpoch !== epoch) throw new GpuWorkAbandonedError();
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      return t.dtype === 'f16' ? fromF16Array(new Uint16Array(bytes, 0, t.size)) : new Float32Array(bytes, 0, t.size);
    } catch (e) {
      this.assertUsable();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  // ---------------------------------------------------------------- dispatch

  pipeline(k: Kernel, dtype: DType = this.dtype, constants?: Constants): GPUComputePipeline {
    const key = pipelineKey(k, dtype, constants);
    let p = this.pipelines.get(key);
    if (p) return p;
    if (dtype === 'f16' && !this.features.f16) throw new GpuCapabilityError(`kernel ${k.name}: f16 needs shader-f16`);
    const module = this.device.createShaderModule({ code: wgslPrelude(dtype) + k.code, label: k.name });
    this.compileChecks.push(
      module.getCompilationInfo().then((info) => {
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length) {
          throw new ShaderCompileError(`WGSL ${k.name} (${dtype}) failed to compile: ` +
            errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; '));
        }
      }),
    );
    p = this.device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: k.entry ?? 'main', constants },
      label: k.name,
    });
    this.pipelines.set(key, p);
    return p;
  }

  /** Record one dispatch. Submission happens in batches; call `sync()` or `read()` to wait. */
  dispatch(spec: DispatchSpec): void {
    this.assertUsable();
    const dtype = spec.dtype ?? this.dtype;
    const pipeline = this.pipeline(spec.kernel, dtype, spec.constants);
    const entries: GPUBindGroupEntry[] = spec.bindings.map((b, i) => ({
      binding: i,
      resource: b instanceof ArrayBuffer ? this.uniform(b) : b instanceof Tensor ? b.binding() : b,
    }));
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      if (r.size !== undefined && r.size > this.maxBindingBytes) {
        throw new GpuCapabilityError(`kernel ${spec.kernel.name}: binding ${e.binding} is ${r.size} bytes, over the ${this.maxBindingBytes}-byte binding limit; split the work`);
      }
    }
    if (this.pool.recordingActive) this.pool.noteTogether(entries.map((x) => (x.resource as GPUBufferBinding).buffer), writableBindings(spec.kernel));
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const [x, y = 1, z = 1] = spec.workgroups;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) throw new RangeError(`kernel ${spec.kernel.name}: ${x}x${y}x${z} workgroups exceed ${maxWg} per dimension`);
    if (x === 0 || y === 0 || z === 0) return;
    const pass = this.getPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
    if (++this.dispatchesInBatch >= this.batchLimit()) this.flush();
  }

  /**
   * Workgroup counts for `n` invocations of `wgSize` threads, folded into 2D when over the
   * per-dimension limit. Shaders recover the linear index as `gid.x + gid.y * nwg.x * wgSize`.
   */
  grid(n: number, wgSize: number): [number, number] {
    const groups = Math.ceil(n / wgSize);
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return [Math.max(groups, 1), 1];
    const y = Math.ceil(groups / max);
    return [Math.ceil(groups / y), y];
  }

  /** Copy `src` into `dst` at byte offsets (both in their buffers' own coordinates). */
  copy(src: Tensor, dst: Tensor, bytes = src.byteLength, srcOffset = 0, dstOffset = 0): void {
    this.assertUsable();
    if (this.pool.recordingActive) this.pool.noteTogether([src.buffer, dst.buffer], [1]);
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src.buffer, src.byteOffset + srcOffset, dst.buffer, dst.byteOffset + dstOffset, Math.ceil(bytes / 4) * 4);
  }

  /** Submit everything recorded so far (or queue it in the backlog behind earlier work, see flow control). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const cmd = this.encoder.finish();
    this.backlog.push({ kind: 'submit', cmd, uniforms: this.uniformShadow.slice(0, this.uniformOffset), dispatches: this.dispatchesInBatch });
    this.encoder = null;
    this.dispatchesInBatch = 0;
    this.uniformOffset = 0;
    this.pump();
  }

  /**
   * Drops the recorded work that has not been submitted to the GPU yet (a cancelled run): what is queued on the GPU
   * finishes (about `maxQueuedMs`), the rest never runs. Tensors written by the dropped work hold undefined values,
   * and a read() waiting now fails with GpuWorkAbandonedError. Weights uploaded before the last sync are unaffected.
   */
  abandonQueued(): void {
    this.abandonEpoch++;
    if (this.encoder) {
      this.endPass();
      this.encoder = null;
      this.dispatchesInBatch = 0;
      this.uniformOffset = 0;
    }
    this.backlog.length = 0;
    this.wakeBacklogWaiters();
  }

  /** Submit, wait for the GPU, and raise the first error captured since the last sync. */
  async sync(): Promise<void> {
    this.flush();
    while (this.backlog.length > 0) await new Promise<void>((resolve) => this.backlogWaiters.push(resolve));
    this.assertUsable();
    await this.device.queue.onSubmittedWorkDone();
    this.assertUsable();
    await this.checkErrors();
  }

  /**
   * Run `work` and measure it: wall time always, GPU time from timestamp queries where the device
   * has them (summed over the compute passes `work` recorded).
   */
  async time(work: () => void | Promise<void>): Promise<{ wallMs: number; gpuMs: number | null }> {
    await this.sync();
    const capacity = 4096;
    if (this.features.timestampQuery) {
      this.timing = { querySet: this.device.createQuerySet({ type: 'timestamp', count: capacity }), used: 0, capacity };
    }
    const t0 = performance.now();
    await work();
    await this.sync();
    const wallMs = performance.now() - t0;
    const timing = this.timing;
    this.timing = null;
    if (!timing || timing.used === 0 || timing.used >= timing.capacity) {
      timing?.querySet.destroy();
      return { wallMs, gpuMs: null };
    }
    const bytes = timing.used * 8;
    const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.resolveQuerySet(timing.querySet, 0, timing.used, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    let ns = 0n;
    for (let i = 0; i + 1 < timing.used; i += 2) if (stamps[i + 1] > stamps[i]) ns += stamps[i + 1] - stamps[i];
    for (const b of [resolve, staging]) b.destroy();
    timing.querySet.destroy();
    return { wallMs, gpuMs: Number(ns) / 1e6 };
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  /** Resolves with the loss error when the device goes away (for the worker to rebuild). */
  get lost(): Promise<DeviceLostError> {
    return this.device.lost.then((info) => this.lostError ?? new DeviceLostError(info.reason ?? 'unknown', info.message));
  }

  destroy(): void {
    this.pool.trim();
    this.uniformArena.destroy();
    this.device.destroy();
  }

  // ---------------------------------------------------------------- internals

  private assertUsable(): void {
    if (this.lostError) throw this.lostError;
  }

  private openScopes(): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.scopesOpen = true;
  }

  private async checkErrors(): Promise<void> {
    const compile = this.compileChecks.splice(0);
    await Promise.all(compile);
    if (!this.scopesOpen) return;
    this.scopesOpen = false;
    const validation = await this.device.popErrorScope();
    const oom = await this.device.popErrorScope();
    this.openScopes();
    if (oom) throw new GpuOutOfMemoryError(`The GPU ran out of memory: ${oom.message}. Try fewer frames, a smaller size or lower precision.`);
    if (validation) throw new GpuValidationError(`WebGPU validation error: ${validation.message}`);
  }

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private getPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const desc: GPUComputePassDescriptor = {};
    const t = this.timing;
    if (t && t.used + 2 <= t.capacity) {
      desc.timestampWrites = { querySet: t.querySet, beginningOfPassWriteIndex: t.used, endOfPassWriteIndex: t.used + 1 };
      t.used += 2;
    } else if (t) {
      t.used = t.capacity; // overflowed: report no GPU time rather than a wrong one
    }
    this.pass = this.getEncoder().beginComputePass(desc);
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Dispatches per submit: about `targetSubmitMs` of measured GPU time, at most `dispatchesPerSubmit`. */
  private batchLimit(): number {
    if (this.msPerDispatch === null) return Math.min(UNMEASURED_BATCH, this.dispatchesPerSubmit);
    return Math.max(1, Math.min(this.dispatchesPerSubmit, Math.floor(this.targetSubmitMs / this.msPerDispatch)));
  }

  /** Submits from the backlog while the GPU's queue holds less than `maxQueuedMs` of estimated work. */
  private pump(): void {
    while (this.backlog.length > 0 && !this.lostError) {
      const op = this.backlog[0];
      if (op.kind === 'write') {
        this.backlog.shift();
        this.device.queue.writeBuffer(op.buffer, op.offset, op.bytes);
        continue;
      }
      const queuedMs = this.inFlight.reduce((s, f) => s + f.estimateMs, 0);
      const estimateMs = this.msPerDispatch === null ? 0 : op.dispatches * this.msPerDispatch;
      const room = this.inFlight.length === 0 ||
        (this.msPerDispatch === null ? this.inFlight.length < UNMEASURED_IN_FLIGHT : queuedMs + estimateMs <= this.maxQueuedMs);
      if (!room) return;
      this.backlog.shift();
      if (op.uniforms.byteLength > 0) this.device.queue.writeBuffer(this.uniformArena, 0, op.uniforms);
      this.device.queue.submit([op.cmd]);
      this.submitCount++;
      const entry = { dispatches: op.dispatches, estimateMs, submittedAt: performance.now() };
      this.inFlight.push(entry);
      const done = () => this.submitDone(entry);
      this.device.queue.onSubmittedWorkDone().then(done, done);
    }
    this.wakeBacklogWaiters();
  }

  /** A submit completed (they complete in order): measure it, then submit more from the backlog. */
  private submitDone(entry: { dispatches: number; submittedAt: number }): void {
    const i = this.inFlight.indexOf(entry as (typeof this.inFlight)[number]);
    if (i < 0) return; // dropped by a device loss
    this.inFlight.splice(i, 1);
    const now = performance.now();
    // GPU time of this submit: from when the GPU could start it (submitted, and the previous one done) to done.
    const ms = now - Math.max(entry.submittedAt, this.lastDoneAt);
    this.lastDoneAt = now;
    if (entry.dispatches > 0) {
      const per = ms / entry.dispatches;
      this.msPerDispatch = this.msPerDispatch === null ? per : 0.7 * this.msPerDispatch + 0.3 * per;
    }
    this.pump();
  }

  private wakeBacklogWaiters(): void {
    if (this.backlog.length > 0) return;
    for (const w of this.backlogWaiters.splice(0)) w();
  }

  private createUniformArena(): GPUBuffer {
    return this.device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniforms' });
  }

  /**
   * Uniform data lives in a per-submit arena: recorded into a shadow copy, written with queue.writeBuffer just before
   * its command buffer is submitted (queue order keeps each earlier submit's values).
   */
  private uniform(data: ArrayBuffer): GPUBufferBinding {
    const align = this.limits.minUniformBufferOffsetAlignment;
    if (this.uniformOffset + data.byteLength > UNIFORM_ARENA_BYTES) {
      // The arena is full: submit, then reuse it.
      this.flush();
    }
    const offset = this.uniformOffset;
    this.uniformShadow.set(new Uint8Array(data), offset);
    this.uniformOffset = Math.ceil((offset + data.byteLength) / align) * align;
    return { buffer: this.uniformArena, offset, size: data.byteLength };
  }
}

const writable = new WeakMap<Kernel, number[]>();

/** Binding indices a kernel declares `read_write` (in any of its entry points): what a dispatch writes. */
function writableBindings(k: Kernel): number[] {
  let w = writable.get(k);
  if (!w) {
    w = [...k.code.matchAll(/@binding\((\d+)\)\s*var<storage,\s*read_write>/g)].map((m) => Number(m[1]));
    writable.set(k, w);
  }
  return w;
}

function padTo4(a: Uint16Array): Uint16Array {
  const out = new Uint16Array(a.length + 1);
  out.set(a);
  return out;
}
