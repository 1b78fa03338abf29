// Which files of a repository (or a dropped folder) make the model, picked the way diffusers picks them:
// a pipeline folder (model_index.json, or unet/ vae/ text_encoder/) → each component's weights and config.json;
// a component folder (config.json + diffusion_pytorch_model*.safetensors / model*.safetensors) → its weights;
// otherwise a single .safetensors checkpoint. Within a component the fp16 variant is preferred when published
// (half the download; diffusers' variant="fp16"), and sharded weights come as the whole set of shards.
// Pure: works on a listing of paths.

import { DeliveryError } from './errors';

export interface ListedFile {
  path: string;
  size: number;
  sha256?: string;
}

export interface PickedFiles {
  weights: ListedFile[];
  configs: ListedFile[];
  /** What was found, for the summary: "diffusers pipeline (unet, vae, text_encoder), fp16". */
  layout: string;
}

const PIPELINE_COMPONENTS = ['unet', 'vae', 'text_encoder'] as const;
const PICKLE = /\.(ckpt|bin|pt|pth|pkl)$/i;

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** Shard name: `<stem>[.<variant>]-00001-of-00003.safetensors`. */
const SHARD = /^(.+?)(?:\.([A-Za-z0-9_]+))?-(\d{5})-of-(\d{5})\.safetensors$/;
/** Whole-file name: `<stem>[.<variant>].safetensors`. */
const WHOLE = /^(.+?)(?:\.([A-Za-z0-9_]+))?\.safetensors$/;

/** Weights of one component folder (diffusers/transformers naming), or null if it has none. */
function componentWeights(files: ListedFile[], dir: string, where: string): { weights: ListedFile[]; variant: string | null } | null {
  const inDir = files.filter((f) => dirOf(f.path) === dir && f.path.endsWith('.safetensors'));
  if (inDir.length === 0) return null;
  const groups = new Map<string, ListedFile[]>(); // `${stem}|${variant}` → files
  for (const f of inDir) {
    const name = baseOf(f.path);
    const s = SHARD.exec(name);
    const w = s ? null : WHOLE.exec(name);
    const stem = s ? s[1] : w![1];
    const variant = (s ? s[2] : w![2]) ?? '';
    if (stem !== 'diffusion_pytorch_model' && stem !== 'model') continue;
    const key = `${stem}|${variant}|${s ? 'sharded' : 'whole'}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const order = ['fp16', ''];
  for (const variant of order) {
    for (const stem of ['diffusion_pytorch_model', 'model']) {
      const whole = groups.get(`${stem}|${variant}|whole`);
      if (whole) return { weights: whole, variant: variant || null };
      const shards = groups.get(`${stem}|${variant}|sharded`);
      if (shards) {
        const n = Number(SHARD.exec(baseOf(shards[0].path))![4]);
        if (shards.length !== n) throw new DeliveryError('bad-source', where, `${dir || 'the folder'} has ${shards.length} of the ${n} shards of ${stem}`);
        return { weights: [...shards].sort((a, b) => a.path.localeCompare(b.path)), variant: variant || null };
      }
    }
  }
  if (inDir.length === 1) return { weights: inDir, variant: null };
  return null;
}

/**
 * Picks the model's files from a listing. `root` is the subfolder to look in ('' = the top); `where` names the
 * source in messages.
 */
export function pickModelFiles(listing: ListedFile[], root: string, where: string): PickedFiles {
  const prefix = root ? `${root.replace(/\/$/, '')}/` : '';
  const files = listing.filter((f) => f.path.startsWith(prefix)).map((f) => ({ ...f, path: f.path.slice(prefix.length) }));
  const back = (f: ListedFile): ListedFile => ({ ...f, path: prefix + f.path });
  if (files.length === 0) throw new DeliveryError('bad-source', where, root ? `there is no folder "${root}" (or it is empty)` : 'the repository is empty');
  const has = (p: string) => files.find((f) => f.path === p);
  const dirs = new Set(files.filter((f) => f.path.includes('/')).map((f) => f.path.split('/')[0]));

  if (has('model_index.json') || PIPELINE_COMPONENTS.some((c) => dirs.has(c))) {
    const weights: ListedFile[] = [];
    const configs: ListedFile[] = [];
    const variants = new Set<string>();
    const missing: string[] = [];
    for (const c of PIPELINE_COMPONENTS) {
      const w = componentWeights(files, c, where);
      if (!w) { missing.push(c); continue; }
      weights.push(...w.weights);
      variants.add(w.variant ?? 'full precision');
      const cfg = has(`${c}/config.json`);
      if (cfg) configs.push(cfg);
    }
    if (missing.length) {
      const pickles = files.filter((f) => PICKLE.test(f.path) && missing.some((m) => f.path.startsWith(`${m}/`)));
      throw new DeliveryError('bad-source', where,
        `this diffusers model has no .safetensors weights for ${missing.join(', ')}` +
        (pickles.length ? ` (only PyTorch pickles, which are never opened: ${pickles.map((f) => f.path).join(', ')})` : ''));
    }
    return { weights: weights.map(back), configs: configs.map(back), layout: `diffusers pipeline (${PIPELINE_COMPONENTS.join(', ')}), ${[...variants].join(' + ')}` };
  }

  const comp = componentWeights(files, '', where);
  if (comp && (has('config.json') || comp.weights.some((f) => /^(diffusion_pytorch_model|model)[.-]/.test(f.path)))) {
    const cfg = has('config.json');
    return { weights: comp.weights.map(back), configs: cfg ? [back(cfg)] : [], layout: `diffusers component${comp.variant ? `, ${comp.variant}` : ''}` };
  }
  const top = files.filter((f) => !f.path.includes('/') && f.path.endsWith('.safetensors'));
  if (top.length === 1) return { weights: [back(top[0])], configs: [], layout: 'single-file checkpoint' };
  if (top.length > 1) {
    throw new DeliveryError('bad-source', where, `there are ${top.length} checkpoints here (${top.map((f) => f.path).join(', ')}); give the URL of the one to use`);
  }
  const pickles = files.filter((f) => PICKLE.test(f.path));
  throw new DeliveryError('bad-source', where,
    pickles.length ? `it has only PyTorch pickles (${pickles.slice(0, 3).map((f) => f.path).join(', ')}), which are never opened; look for a .safetensors version`
      : 'no .safetensors model files found (a diffusers folder with unet/, vae/ and text_encoder/, or one .safetensors checkpoint)');
}
