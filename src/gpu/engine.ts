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
   * GPU time (ms) one submit aims at (its dispatch count adapts to the submits measured so far), and the most
   * estimated work queued ahead of the GPU beyond two submits: the rest waits in the engine's backlog, so
   * `abandonQueued()` stops a run within about that time on any adapter. Defaults 100 and 1000.
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

/**
 * Recorded work in program order. Dispatches are encoded into command buffers only when they are submitted, so
 * each submit's size follows the GPU's measured speed; a uniform binding holds its bytes until then. Pipelines are
 * created then too: a software adapter compiles each one for seconds, and abandoned work should cost none.
 */
type QueuedOp =
  | { kind: 'dispatch'; kernel: Kernel; dtype: DType; constants?: Constants; entries: (GPUBindGroupEntry | { binding: number; uniform: Uint8Array })[]; workgroups: [number, number, number]; cost: number }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number }
  | { kind: 'write'; buffer: GPUBuffer; offset: number; bytes: Uint8Array };

/** Dispatches per submit before anything is measured; later submits adapt to `targetSubmitMs`. */
const FIRST_BATCH = 4;
/** Submits that may always be queued on the GPU, whatever the estimates say. */
const MIN_IN_FLIGHT = 2;

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
  private uniformArena: GPUBuffer;
  /** The uniforms of the submit being encoded; written to the arena just before it is submitted. */
  private readonly uniformShadow = new Uint8Array(UNIFORM_ARENA_BYTES);
  /**
   * Flow control. A step of a large model records thousands of dispatches synchronously; submitted at once they
   * would queue minutes of GPU work on a slow adapter that nothing can take back (a cancelled run, or a closed
   * worker, leaves the GPU process busy until it is all done). So recorded work waits in `backlog` and is encoded
   * and submitted in batches of about `targetSubmitMs` (measured), with two submits, or about `maxQueuedMs` of
   * estimated work, queued ahead of the GPU.
   */
  private readonly backlog: QueuedOp[] = [];
  private readonly inFlight: { cost: number; estimateMs: number; submittedAt: number }[] = [];
  private lastDoneAt = 0;
  /** Dispatches and their cost (workgroups) waiting in the backlog. */
  private pendingDispatches = 0;
  private pendingCost = 0;
  /**
   * Measured GPU ms per workgroup (rises at once, falls slowly); null until a submit completes. Workgroups are a
   * rough measure of a dispatch's work (kernels differ), good enough to size submits to a fraction of a second.
   */
  private msPerCost: number | null = null;
  /**
   * The fixed cost of one submit (round trip, queue wake-up): the least any submit took, creeping up 2 % per submit
   * so it follows a machine that got slower. Left out of msPerCost, or latency would pass for work and shrink
   * every submit to one dispatch.
   */
  private submitFloorMs = Infinity;
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
      this.pendingDispatches = 0;
      this.pendingCost = 0;
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
    const padded = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes as Uint16Array);
    // Work recorded before this write must reach the queue first, so queue order matches program order.
    this.flush();
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
    if (this.backlog.length === 0) this.device.queue.writeBuffer(buffer, 0, padded.buffer, padded.byteOffset, padded.byteLength);
    else this.backlog.push({ kind: 'write', buffer, offset: 0, bytes: padded.slice() }); // behind the recorded work
  }

  /** Read a tensor back as f32 values: submits pending work and raises any captured GPU error. */
  async read(t: Tensor): Promise<Float32Array> {
    this.assertUsable();
    const size = Math.ceil(t.byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.backlog.push({ kind: 'copy', src: t.buffer, srcOffset: t.byteOffset, dst: staging, dstOffset: 0, size });
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
    if (dtype === 'f16' && !this.features.f16) throw new GpuCapabilityError(`kernel ${spec.kernel.name}: f16 needs shader-f16`);
    const entries = spec.bindings.map((b, i) =>
      b instanceof ArrayBuffer ? { binding: i, uniform: new Uint8Array(b.slice(0)) } : { binding: i, resource: b instanceof Tensor ? b.binding() : b });
    for (const e of entries) {
      const r = 'resource' in e ? (e.resource as GPUBufferBinding) : null;
      if (r?.size !== undefined && r.size > this.maxBindingBytes) {
        throw new GpuCapabilityError(`kernel ${spec.kernel.name}: binding ${e.binding} is ${r.size} bytes, over the ${this.maxBindingBytes}-byte binding limit; split the work`);
      }
      if (!r && (e as { uniform: Uint8Array }).uniform.byteLength > UNIFORM_ARENA_BYTES) throw new RangeError(`kernel ${spec.kernel.name}: uniform binding ${e.binding} is over ${UNIFORM_ARENA_BYTES} bytes`);
    }
    // The planner's recording sees which buffers a dispatch binds together (uniform bindings have none).
    if (this.pool.recordingActive) this.pool.noteTogether(entries.map((x) => ('resource' in x ? (x.resource as GPUBufferBinding).buffer : undefined)) as GPUBuffer[], writableBindings(spec.kernel));
    const [x, y = 1, z = 1] = spec.workgroups;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) throw new RangeError(`kernel ${spec.kernel.name}: ${x}x${y}x${z} workgroups exceed ${maxWg} per dimension`);
    if (x === 0 || y === 0 || z === 0) return;
    const cost = x * y * z;
    this.backlog.push({ kind: 'dispatch', kernel: spec.kernel, dtype, constants: spec.constants, entries, workgroups: [x, y, z], cost });
    this.dispatchCount++;
    this.pendingDispatches++;
    this.pendingCost += cost;
    // A full batch goes out at once while the GPU has room (the first of a step); the rest waits for completions.
    if (this.inFlight.length < MIN_IN_FLIGHT && this.batchFull(this.pendingDispatches, this.pendingCost)) this.pump();
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
    this.backlog.push({ kind: 'copy', src: src.buffer, srcOffset: src.byteOffset + srcOffset, dst: dst.buffer, dstOffset: dst.byteOffset + dstOffset, size: Math.ceil(bytes / 4) * 4 });
  }

  /** Submit what the flow control allows now; the rest of the recorded work follows as earlier submits complete. */
  flush(): void {
    this.pump();
  }

  /**
   * Drops the recorded work that has not been submitted to the GPU yet (a cancelled run): what is queued on the GPU
   * finishes (about `maxQueuedMs`), the rest never runs. Tensors written by the dropped work hold undefined values,
   * and a read() waiting now fails with GpuWorkAbandonedError. Weights uploaded before the last sync are unaffected.
   */
  abandonQueued(): void {
    this.abandonEpoch++;
    this.backlog.length = 0;
    this.pendingDispatches = 0;
    this.pendingCost = 0;
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

  /** Timestamp writes for the pass when `time()` is measuring. */
  private passDescriptor(): GPUComputePassDescriptor {
    const desc: GPUComputePassDescriptor = {};
    const t = this.timing;
    if (t && t.used + 2 <= t.capacity) {
      desc.timestampWrites = { querySet: t.querySet, beginningOfPassWriteIndex: t.used, endOfPassWriteIndex: t.used + 1 };
      t.used += 2;
    } else if (t) {
      t.used = t.capacity; // overflowed: report no GPU time rather than a wrong one
    }
    return desc;
  }

  /** Submits from the backlog while the GPU has room: two submits, or about `maxQueuedMs` of estimated work. */
  private pump(): void {
    while (this.backlog.length > 0 && !this.lostError) {
      const op = this.backlog[0];
      if (op.kind === 'write') {
        this.backlog.shift();
        this.device.queue.writeBuffer(op.buffer, op.offset, op.bytes);
        continue;
      }
      const queuedMs = this.inFlight.reduce((s, f) => s + f.estimateMs, 0);
      const room = this.inFlight.length < MIN_IN_FLIGHT || (this.msPerCost !== null && this.msPerCost > 0 && queuedMs + this.targetSubmitMs <= this.maxQueuedMs);
      if (!room) break;
      this.submitBatch();
    }
    this.wakeBacklogWaiters();
  }

  /** Whether a submit of these dispatches is as large as one should be (see `targetSubmitMs`). */
  private batchFull(dispatches: number, cost: number): boolean {
    if (dispatches >= this.dispatchesPerSubmit) return true;
    return this.msPerCost === null ? dispatches >= FIRST_BATCH : cost * this.msPerCost >= this.targetSubmitMs;
  }

  /** Encodes one batch of dispatches (and the copies among them) from the backlog into one submit. */
  private submitBatch(): void {
    const enc = this.device.createCommandEncoder();
    let pass: GPUComputePassEncoder | null = null;
    let dispatches = 0, cost = 0, uniformBytes = 0;
    const align = this.limits.minUniformBufferOffsetAlignment;
    while (this.backlog.length > 0 && !this.batchFull(dispatches, cost)) {
      const op = this.backlog[0];
      if (op.kind === 'write') break;
      if (op.kind === 'copy') {
        this.backlog.shift();
        pass?.end();
        pass = null;
        enc.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
        continue;
      }
      // Uniforms go into this submit's arena; a full arena ends the submit.
      let end = uniformBytes;
      for (const e of op.entries) if ('uniform' in e) end = Math.ceil((end + e.uniform.byteLength) / align) * align;
      if (end > UNIFORM_ARENA_BYTES && dispatches > 0) break;
      this.backlog.shift();
      const entries = op.entries.map((e): GPUBindGroupEntry => {
        if (!('uniform' in e)) return e;
        const offset = uniformBytes;
        this.uniformShadow.set(e.uniform, offset);
        uniformBytes = Math.ceil((offset + e.uniform.byteLength) / align) * align;
        return { binding: e.binding, resource: { buffer: this.uniformArena, offset, size: e.uniform.byteLength } };
      });
      const pipeline = this.pipeline(op.kernel, op.dtype, op.constants);
      pass ??= enc.beginComputePass(this.passDescriptor());
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(...op.workgroups);
      dispatches++;
      cost += op.cost;
    }
    this.pendingDispatches -= dispatches;
    this.pendingCost -= cost;
    pass?.end();
    // Queue order: this write lands after the previous submit has read the arena, before this one does.
    if (uniformBytes > 0) this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformShadow, 0, uniformBytes);
    this.device.queue.submit([enc.finish()]);
    this.submitCount++;
    const entry = { cost, estimateMs: this.msPerCost === null ? 0 : this.submitFloorMs + cost * this.msPerCost, submittedAt: performance.now() };
    this.inFlight.push(entry);
    const done = () => this.submitDone(entry);
    this.device.queue.onSubmittedWorkDone().then(done, done);
  }

  /** A submit completed (they complete in order): size the next ones from its time, then submit more. */
  private submitDone(entry: { cost: number; submittedAt: number }): void {
    const i = this.inFlight.indexOf(entry as (typeof this.inFlight)[number]);
    if (i < 0) return; // dropped by a device loss
    this.inFlight.splice(i, 1);
    const now = performance.now();
    // GPU time of this submit: from when the GPU could start it (submitted, and the previous one done) to done.
    const ms = Math.max(now - Math.max(entry.submittedAt, this.lastDoneAt), 0.01);
    this.lastDoneAt = now;
    if (entry.cost > 0) {
      this.submitFloorMs = Math.min(ms, this.submitFloorMs * 1.02);
      const per = Math.max(0, ms - this.submitFloorMs) / entry.cost;
      // A slow submit counts at once (the queue must not overfill); fast ones lower the estimate gradually.
      this.msPerCost = this.msPerCost === null || per > this.msPerCost ? per : 0.8 * this.msPerCost + 0.2 * per;
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
