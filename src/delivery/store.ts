// Where cached files live: a flat directory of named files with positional writes and lazy reads.
// In the browser that is a directory of the Origin Private File System (OPFS); Node tests use a real directory
// (src/platform/node-file-store.ts). Nothing here holds a whole file in memory.

import { DeliveryError } from './errors';

export interface StoreWriter {
  /** Writes `bytes` at the current position (starting at the `from` given to openWriter) and advances. */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the bytes written so far durable (they survive a reload). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface FileStore {
  /** Opens `name` for writing from byte `from` (the file is cut there first; created when missing). */
  openWriter(name: string, from: number): Promise<StoreWriter>;
  /** The stored file as a lazily read Blob, or null when absent. */
  read(name: string): Promise<Blob | null>;
  /** Byte size of the stored file, or null when absent. */
  size(name: string): Promise<number | null>;
  remove(name: string): Promise<void>;
  list(): Promise<string[]>;
  /** Small text files (the manifest): written whole, replacing the old content. */
  readText(name: string): Promise<string | null>;
  writeText(name: string, text: string): Promise<void>;
}

function storageError(name: string, what: string, e: unknown): DeliveryError {
  const quota = (e as { name?: string })?.name === 'QuotaExceededError';
  return new DeliveryError(quota ? 'quota' : 'storage', name, `${what}: ${quota ? 'the browser storage is full' : String(e)}`, { cause: e });
}

interface SyncHandle {
  write(buf: Uint8Array, opts: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

/** A directory of the Origin Private File System. In a worker, writes go through a synchronous access handle. */
export function opfsStore(dir: FileSystemDirectoryHandle): FileStore {
  const fileHandle = async (name: string, create: boolean): Promise<FileSystemFileHandle | null> => {
    try {
      return await dir.getFileHandle(name, { create });
    } catch (e) {
      if ((e as { name?: string }).name === 'NotFoundError') return null;
      throw storageError(name, 'cannot open the stored file', e);
    }
  };
  return {
    async openWriter(name, from) {
      const h = (await fileHandle(name, true))!;
      const createSync = (h as unknown as { createSyncAccessHandle?: () => Promise<SyncHandle> }).createSyncAccessHandle;
      if (typeof createSync === 'function') {
        let sync: SyncHandle;
        try {
          sync = await createSync.call(h);
          sync.truncate(from);
        } catch (e) {
          throw storageError(name, 'cannot write the stored file (is it open in another tab?)', e);
        }
        let at = from;
        return {
          async write(bytes) {
            try {
              let done = 0;
              while (done < bytes.byteLength) done += sync.write(bytes.subarray(done), { at: at + done });
              at += bytes.byteLength;
            } catch (e) {
              throw storageError(name, 'writing failed', e);
            }
          },
          async flush() { sync.flush(); },
          async close() { sync.flush(); sync.close(); },
        };
      }
      // Main thread (no sync handles): a writable stream, committed on flush/close.
      let w: FileSystemWritableFileStream;
      let at = from;
      const open = async () => {
        w = await h.createWritable({ keepExistingData: true });
        await w.truncate(at);
        await w.seek(at);
      };
      try { await open(); } catch (e) { throw storageError(name, 'cannot write the stored file', e); }
      return {
        async write(bytes) {
          try { await w.write(bytes as Uint8Array<ArrayBuffer>); at += bytes.byteLength; } catch (e) { throw storageError(name, 'writing failed', e); }
        },
        async flush() { await w.close(); await open(); },
        async close() { await w.close(); },
      };
    },
    async read(name) {
      const h = await fileHandle(name, false);
      if (!h) return null;
      try { return await h.getFile(); } catch (e) { throw storageError(name, 'cannot read the stored file', e); }
    },
    async size(name) {
      const f = await this.read(name);
      return f ? f.size : null;
    },
    async remove(name) {
      try {
        await dir.removeEntry(name);
      } catch (e) {
        if ((e as { name?: string }).name !== 'NotFoundError') throw storageError(name, 'cannot delete the stored file', e);
      }
    },
    async list() {
      const names: string[] = [];
      for await (const [name, h] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
        if (h.kind === 'file') names.push(name);
      }
      return names;
    },
    async readText(name) {
      const f = await this.read(name);
      return f ? f.text() : null;
    },
    async writeText(name, text) {
      const w = await this.openWriter(name, 0);
      await w.write(new TextEncoder().encode(text));
      await w.close();
    },
  };
}

/** The OPFS directory the model cache lives in (`models/` under the origin's root). */
export async function openOpfsStore(storage: StorageManager = navigator.storage): Promise<FileStore> {
  if (!storage?.getDirectory) {
    throw new DeliveryError('storage', 'model cache', 'this browser has no Origin Private File System (navigator.storage.getDirectory); models cannot be cached');
  }
  try {
    const root = await storage.getDirectory();
    return opfsStore(await root.getDirectoryHandle('models', { create: true }));
  } catch (e) {
    throw storageError('model cache', 'cannot open the browser storage (private browsing can disable it)', e);
  }
}
