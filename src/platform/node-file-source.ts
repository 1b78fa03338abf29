// Node-only ByteSource over a local file (tests, CLI). Never imported by the app.
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { WeightFileError } from '../weights/errors';
import { checkRange, type ByteSource } from '../weights/source';

export interface NodeFileSource extends ByteSource {
  close(): Promise<void>;
}

export async function openNodeFileSource(path: string): Promise<NodeFileSource> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new WeightFileError('io', path, `cannot open: ${(e as Error).message}`, { cause: e });
  }
  const size = (await fh.stat()).size;
  const name = basename(path);
  return {
    name,
    size,
    async read(offset, length) {
      checkRange(name, size, offset, length);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) {
          throw new WeightFileError('truncated', name, `expected ${length} bytes at offset ${offset}, the file ended after ${done}`);
        }
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}
