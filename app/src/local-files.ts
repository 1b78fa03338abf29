// Local files from an <input type=file multiple/webkitdirectory> or a drop (folders walked recursively), each with
// its path relative to what was chosen ("my-model/unet/config.json"), so the model's files can be picked like a repo's.

import type { LocalFile } from './components/SourcePicker';

/** Files of an input: `webkitRelativePath` when a folder was chosen, else the file name. */
export function filesOfInput(list: FileList | null): LocalFile[] {
  return Array.from(list ?? []).map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

type Entry = { isFile: boolean; isDirectory: boolean; name: string; fullPath: string };
type FileEntry = Entry & { file(ok: (f: File) => void, fail: (e: unknown) => void): void };
type DirEntry = Entry & { createReader(): { readEntries(ok: (e: Entry[]) => void, fail: (e: unknown) => void): void } };

async function walk(entry: Entry, out: LocalFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((ok, fail) => (entry as FileEntry).file(ok, fail));
    out.push({ file, path: entry.fullPath.replace(/^\//, '') });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as DirEntry).createReader();
  // readEntries returns the folder in batches (100 in Chrome) until an empty batch.
  for (;;) {
    const batch = await new Promise<Entry[]>((ok, fail) => reader.readEntries(ok, fail));
    if (batch.length === 0) break;
    for (const e of batch) await walk(e, out);
  }
}

/** Files (and the files inside folders) of a drop. */
export async function filesOfDrop(dt: DataTransfer): Promise<LocalFile[]> {
  const entries: Entry[] = [];
  for (const item of Array.from(dt.items ?? [])) {
    const e = item.kind === 'file' ? (item.webkitGetAsEntry?.() as Entry | null | undefined) : null;
    if (e) entries.push(e);
  }
  if (entries.length === 0) return filesOfInput(dt.files);
  const out: LocalFile[] = [];
  for (const e of entries) await walk(e, out);
  return out;
}
