// Recent generations kept in this browser's IndexedDB (nothing leaves the machine): the settings, the model
// names, and the frames as PNG blobs (lossless and compact), plus exported files when the user made them.

import { type GenerationSpec, parseSpec } from '../../src/pipeline/spec';

export interface HistoryEntry {
  id: string;
  createdAt: number;
  /** The spec that made it; entries of older versions hold older shapes: read it with parseSpec. */
  settings: GenerationSpec;
  /** Human-readable model description, e.g. "SD 1.5 + AnimateDiff v2". */
  models: string;
  width: number;
  height: number;
  fps: number;
  elapsedMs: number;
  /** One PNG per frame, in order. */
  frames: Blob[];
}

/** The entry's spec read with parseSpec (older versions migrate), or null when it cannot be read. */
export function entrySpec(entry: HistoryEntry): GenerationSpec | null {
  try {
    return parseSpec(entry.settings);
  } catch {
    return null;
  }
}

const DB_NAME = 'animatediff-web';
const STORE = 'history';
/** Oldest entries beyond this are deleted when a new one is saved. */
export const HISTORY_LIMIT = 24;

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

let dbPromise: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  dbPromise ??= new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, 1);
    r.onupgradeneeded = () => {
      const store = r.result.createObjectStore(STORE, { keyPath: 'id' });
      store.createIndex('createdAt', 'createdAt');
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  }).catch((e) => {
    dbPromise = null;
    throw e;
  });
  return dbPromise;
}

/** All entries, newest first. */
export async function listHistory(): Promise<HistoryEntry[]> {
  const db = await open();
  const all = await request(db.transaction(STORE).objectStore(STORE).getAll() as IDBRequest<HistoryEntry[]>);
  return all.sort((a, b) => b.createdAt - a.createdAt);
}

/** Saves an entry and deletes the oldest beyond HISTORY_LIMIT. */
export async function saveHistory(entry: HistoryEntry): Promise<void> {
  const db = await open();
  const tx = db.transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  store.put(entry);
  const keys = (await request(store.index('createdAt').getAllKeys())) as string[];
  // getAllKeys on the index returns primary keys ordered by createdAt, oldest first.
  for (const k of keys.slice(0, Math.max(0, keys.length - HISTORY_LIMIT))) store.delete(k);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export async function deleteHistory(id: string): Promise<void> {
  const db = await open();
  await request(db.transaction(STORE, 'readwrite').objectStore(STORE).delete(id));
}
