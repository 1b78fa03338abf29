// Node FolderReader for the conformance harness (CLI, tests). Never imported by the app.
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FolderReader } from '../conformance/registry';
import { type NodeFileSource, openNodeFileSource } from './node-file-source';

export function nodeFolderReader(dir: string): FolderReader {
  const abs = (rel: string) => path.resolve(dir, rel);
  const opened: NodeFileSource[] = [];
  return {
    dir,
    async exists(rel) {
      try {
        await access(abs(rel));
        return true;
      } catch {
        return false;
      }
    },
    read: async (rel) => new Uint8Array(await readFile(abs(rel))),
    list: async () => (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name),
    async source(rel) {
      const s = await openNodeFileSource(abs(rel));
      opened.push(s);
      return s;
    },
    async close() {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    },
  };
}
