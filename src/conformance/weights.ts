// Weight loading for the harness through the project's real loaders (src/weights): every file of a layout is
// opened as safetensors, detected and mapped to canonical names; the harness hands runners one map holding every
// component the files provide (UNet + motion modules, VAE, text encoder: their canonical names never collide).
import { loadWeights, type LoadOptions } from '../weights/load';
import { openSafetensors } from '../weights/safetensors';
import type { WeightMap } from '../weights/weight-map';
import type { CanonicalWeights, FolderReader } from './registry';

export async function loadCanonicalWeights(files: FolderReader, paths: string[], options: LoadOptions = {}): Promise<CanonicalWeights> {
  const opened = await Promise.all(paths.map(async (p) => openSafetensors(await files.source(p))));
  const loaded = await loadWeights(opened, options);
  const maps = [loaded.unet, loaded.vae, loaded.textEncoder].filter((m): m is WeightMap => m !== undefined);
  return unionWeights(maps);
}

/** Several canonical maps as one (first map holding a name wins; names of different components are disjoint). */
export function unionWeights(maps: WeightMap[]): CanonicalWeights {
  const owner = (n: string) => maps.find((m) => m.has(n));
  const get = (n: string) => {
    const m = owner(n);
    if (!m) throw new Error(`no weight named "${n}" in the loaded files`);
    return m;
  };
  return {
    has: (n) => owner(n) !== undefined,
    shape: (n) => get(n).shape(n),
    read: (n) => get(n).read(n),
    names: () => maps.flatMap((m) => m.names()),
  };
}
