// The UI's end of the worker protocol: one module Worker, typed send/subscribe, and a fresh worker if it dies.

import type { FromWorker, ToWorker } from '../../src/worker/protocol';

export type Listener = (msg: FromWorker) => void;

export class WorkerClient {
  private worker: Worker | null = null;
  private readonly listeners = new Set<Listener>();
  private lastId = 0;

  /** A new request id (ids only grow, so late messages of old requests are recognisable). */
  nextId(): number {
    return ++this.lastId;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  send(msg: ToWorker): void {
    this.ensure().postMessage(msg);
  }

  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
  }

  private emit(msg: FromWorker): void {
    for (const l of this.listeners) l(msg);
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('../../src/worker/worker.ts', import.meta.url), { type: 'module', name: 'animatediff-generation' });
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
    return w;
  }
}
