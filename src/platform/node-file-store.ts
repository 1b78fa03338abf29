// The model cache's FileStore on a Node directory (tests and scripts): real files, positional writes, lazy Blobs.
import { mkdirSync, openAsBlob } from 'node:fs';
import { open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FileStore } from '../delivery/store';

export function nodeFileStore(dir: string): FileStore {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => {
    if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') throw new Error(`bad store name ${name}`);
    return path.join(dir, name);
  };
  const exists = async (name: string) => stat(p(name)).then((s) => s, () => null);
  return {
    async openWriter(name, from) {
      if (!(await exists(name))) await writeFile(p(name), new Uint8Array(0));
      await truncate(p(name), from);
      const fh = await open(p(name), 'r+');
      let at = from;
      return {
        async write(bytes) {
          let done = 0;
          while (done < bytes.byteLength) done += (await fh.write(bytes, done, bytes.byteLength - done, at + done)).bytesWritten;
          at += bytes.byteLength;
        },
        async flush() { await fh.sync(); },
        async close() { await fh.close(); },
      };
    },
    async read(name) {
      return (await exists(name)) ? openAsBlob(p(name)) : null;
    },
    async size(name) {
      return (await exists(name))?.size ?? null;
    },
    async remove(name) {
      await rm(p(name), { force: true });
    },
    async list() {
      return readdir(dir);
    },
    async readText(name) {
      return (await exists(name)) ? readFile(p(name), 'utf8') : null;
    },
    async writeText(name, text) {
      await writeFile(p(name), text);
    },
  };
}
