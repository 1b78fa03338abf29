// Download progress across files: bytes per file and overall, speed over a sliding window, and time left.

export type FileState = 'queued' | 'cached' | 'downloading' | 'verifying' | 'done' | 'error' | 'cancelled';

export interface FileProgress {
  name: string;
  received: number;
  total: number | null;
  state: FileState;
  note?: string;
}

export interface DownloadProgress {
  files: FileProgress[];
  received: number;
  /** Null while a file's size is unknown. */
  total: number | null;
  bytesPerSec: number;
  /** Null while the speed or a size is unknown. */
  etaMs: number | null;
}

export class ProgressTracker {
  private readonly files: FileProgress[];
  private samples: { t: number; bytes: number }[] = [];
  private lastEmit = 0;

  constructor(names: string[], private readonly emit: (p: DownloadProgress) => void, private readonly now: () => number = () => performance.now(), private readonly windowMs = 5000, private readonly intervalMs = 200) {
    this.files = names.map((name) => ({ name, received: 0, total: null, state: 'queued' }));
  }

  update(i: number, patch: Partial<FileProgress>, freshBytes = 0, force = false): void {
    Object.assign(this.files[i], patch);
    const t = this.now();
    if (freshBytes > 0) this.samples.push({ t, bytes: freshBytes });
    if (force || t - this.lastEmit >= this.intervalMs) {
      this.lastEmit = t;
      this.emit(this.snapshot());
    }
  }

  snapshot(): DownloadProgress {
    const t = this.now();
    this.samples = this.samples.filter((s) => t - s.t <= this.windowMs);
    const span = this.samples.length ? Math.max(1000, t - this.samples[0].t) : 0;
    const bytesPerSec = span ? (this.samples.reduce((a, s) => a + s.bytes, 0) * 1000) / span : 0;
    const received = this.files.reduce((a, f) => a + f.received, 0);
    const total = this.files.every((f) => f.total !== null) ? this.files.reduce((a, f) => a + (f.total ?? 0), 0) : null;
    const etaMs = total !== null && bytesPerSec > 0 ? ((total - received) / bytesPerSec) * 1000 : null;
    return { files: this.files.map((f) => ({ ...f })), received, total, bytesPerSec, etaMs };
  }
}
