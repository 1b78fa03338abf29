// Weight loading for the harness through the project's real loaders (src/weights): every file of a layout is
// opened as safetensors, detected and mapped to canonical names; the harness hands runners one map holding every
// component the files provide (UNet + motion modules, VAE, text encoder: their canonical names never collide).
import { loadWeights, type LoadOptions } from '../weights/load';
import { openSafetensors } from '../weights/safetensors';
import { unionWeightMaps, type WeightMap } from '../weights/weight-map';
import type { CanonicalWeights, FolderReader } from './registry';

export async function loadCanonicalWeights(files: FolderReader, paths: string[], options: LoadOptions = {}): Promise<CanonicalWeights> {
  const opened = await Promise.all(paths.map(async (p) => openSafetensors(await files.source(p))));
  const loaded = await loadWeights(opened, options);
  const maps = [loaded.unet, loaded.vae, loaded.textEncoder].filter((m): m is WeightMap => m !== undefined);
  return unionWeightMaps(maps);
}
