// The UI's end of the worker protocol: one module Worker, typed send/subscribe, and a fresh worker if it dies or is
// ended. Every worker gets the page's 'init' first (a restarted one too: it must read from the same Hub origin).

import type { FromWorker, ToWorker } from '../../src/worker/protocol';

export type Listener = (msg: FromWorker) => void;

/** What the client needs of a Worker (a real module Worker in the page). */
export interface WorkerLike {
  postMessage(msg: ToWorker): void;
  terminate(): void;
  onmessage: ((ev: MessageEvent<FromWorker>) => void) | null;
  onerror: ((ev: ErrorEvent) => void) | null;
}

const spawnGenerationWorker = (): WorkerLike =>
  new Worker(new URL('../../src/worker/worker.ts', import.meta.url), { type: 'module', name: 'animatediff-generation' });

export class WorkerClient {
  private worker: WorkerLike | null = null;
  private readonly listeners = new Set<Listener>();
  private lastId = 0;
  /** The page's 'init' (Hub origin override): sent first to every worker this client starts. */
  private init: Extract<ToWorker, { type: 'init' }> | null = null;

  constructor(private readonly spawn: () => WorkerLike = spawnGenerationWorker) {}

  /** A new request id (ids only grow, so late messages of old requests are recognisable). */
  nextId(): number {
    return ++this.lastId;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  send(msg: ToWorker): void {
    if (msg.type === 'init') {
      this.init = msg;
      // A worker started now gets it from ensure(); one already running gets it here.
      if (this.worker) this.worker.postMessage(msg);
      else this.ensure();
      return;
    }
    this.ensure().postMessage(msg);
  }

  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
  }

  private emit(msg: FromWorker): void {
    for (const l of this.listeners) l(msg);
  }

  private ensure(): WorkerLike {
    if (this.worker) return this.worker;
    const w = this.spawn();
    w.onmessage = (ev: MessageEvent<FromWorker>) => this.emit(ev.data);
    // The worker script itself failed (a load error, or an uncaught error): report it and start a fresh worker next time.
    w.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      this.terminate();
      this.emit({
        type: 'error',
        id: null,
        error: { kind: 'internal', message: 'The generation worker stopped unexpectedly.', suggestion: 'Press Generate to start it again.', detail: ev.message || 'worker error' },
      });
    };
    this.worker = w;
    // Before anything else: a worker that opened its model cache before 'init' would keep the default Hub origin.
    if (this.init) w.postMessage(this.init);
    return w;
  }
}
