// Where the reference vectors live: ../shared/oracle beside the checkout (read-only; CI has it there too), and the
// one way tests open an oracle safetensors file and close it after the file's tests.
import path from 'node:path';
import { afterAll } from 'vitest';
import { openNodeFileSource, type NodeFileSource } from '../src/platform/node-file-source';
import { openSafetensors, type SafetensorsFile } from '../src/weights/safetensors';

export const ORACLE = path.resolve(__dirname, '../../shared/oracle');
export const VECTORS = path.join(ORACLE, 'vectors');
export const MANIFESTS = path.join(ORACLE, 'manifests');
export const TOKENIZER = path.join(ORACLE, 'tokenizer');

/**
 * Opens oracle files by their path under vectors/ ("lora_tiny/vA/x.safetensors"); every file opened is closed after
 * the calling test file's tests. Call at the top level of a test file.
 */
export function oracleFiles(): (rel: string) => Promise<SafetensorsFile> {
  const opened: NodeFileSource[] = [];
  afterAll(async () => { for (const s of opened) await s.close(); });
  return async (rel) => {
    const src = await openNodeFileSource(path.join(VECTORS, rel));
    opened.push(src);
    return openSafetensors(src);
  };
}
