// Recent generations kept in this browser's IndexedDB (nothing leaves the machine): the settings, the model
// names, and the frames as PNG blobs (lossless and compact), plus exported files when the user made them.
// Stored records are never trusted: every record is checked on read (parseHistoryEntry), repaired where a default
// is clearly right, and skipped otherwise, so one bad record cannot take the page down.

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
/**
 * Schema versions: 1 = the records above, unchecked; 2 = the same fields, every record checked (its spec by
 * parseSpec) and repaired by the upgrade (records that cannot be repaired are deleted).
 */
export const HISTORY_DB_VERSION = 2;
/** Oldest entries beyond this are deleted when a new one is saved. */
export const HISTORY_LIMIT = 24;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const posInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** The record's spec through parseSpec (older versions migrate), or null when it cannot be read. */
function readSpec(v: unknown): GenerationSpec | null {
  try {
    return parseSpec(v);
  } catch {
    return null;
  }
}

/**
 * A stored record as a HistoryEntry, or null when it cannot be shown: no id, no valid settings, or no frames.
 * Repairs: a missing model label, fps, time or creation date get neutral values; the size comes from the settings.
 */
export function parseHistoryEntry(raw: unknown): HistoryEntry | null {
  if (!isObj(raw) || typeof raw.id !== 'string' || raw.id === '') return null;
  const settings = readSpec(raw.settings);
  if (!settings) return null;
  const frames = raw.frames;
  if (!Array.isArray(frames) || frames.length === 0 || !frames.every((f) => f instanceof Blob)) return null;
  return {
    id: raw.id,
    createdAt: finite(raw.createdAt) ? raw.createdAt : 0,
    settings,
    models: typeof raw.models === 'string' ? raw.models : 'unknown models',
    width: posInt(raw.width) ? raw.width : settings.width,
    height: posInt(raw.height) ? raw.height : settings.height,
    fps: finite(raw.fps) && raw.fps > 0 && raw.fps <= 60 ? raw.fps : 8,
    elapsedMs: finite(raw.elapsedMs) && raw.elapsedMs >= 0 ? raw.elapsedMs : 0,
    frames: frames as Blob[],
  };
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

let dbPromise: Promise<IDBDatabase> | null = null;

/** Version 1 → 2: every record checked; repaired ones rewritten, the rest deleted. */
function migrateToV2(store: IDBObjectStore): void {
  const cursor = store.openCursor();
  cursor.onsuccess = () => {
    const c = cursor.result;
    if (!c) return;
    const entry = parseHistoryEntry(c.value);
    if (entry) c.update(entry);
    else c.delete();
    c.continue();
  };
}

function open(): Promise<IDBDatabase> {
  dbPromise ??= new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, HISTORY_DB_VERSION);
    r.onupgradeneeded = (ev) => {
      const db = r.result;
      if (ev.oldVersion < 1) db.createObjectStore(STORE, { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
      else if (ev.oldVersion < 2) migrateToV2(r.transaction!.objectStore(STORE));
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  }).catch((e) => {
    dbPromise = null;
    throw e;
  });
  return dbPromise;
}

/** All readable entries, newest first (records that fail parseHistoryEntry are left out). */
export async function listHistory(): Promise<HistoryEntry[]> {
  const db = await open();
  const all = await request(db.transaction(STORE).objectStore(STORE).getAll() as IDBRequest<unknown[]>);
  return all.flatMap((r) => parseHistoryEntry(r) ?? []).sort((a, b) => b.createdAt - a.createdAt);
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
