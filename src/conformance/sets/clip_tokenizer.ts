// Runner for `clip_tokenizer` folders: tokenizer_vectors.json holds, per prompt, the SD1.5 target
// `sd_input_ids` (transformers CLIPTokenizer, padding="max_length", max_length=77, truncation=True). The tokenizer
// files come from the folder itself when present, else from the oracle tree's `tokenizer/` (three levels up:
// vectors/<set>/<variant>/../../../tokenizer). Token ids are compared exactly.
import { createClipTokenizer } from '../../text/tokenizer';
import { ConformanceError, type FolderReader, type RunContext, type RunOutputs, type SetRunner, type VectorConfig } from '../registry';
import type { RefTensor } from '../tensor-file';

interface PromptVector { prompt: string; sd_input_ids: number[] }

const VECTORS = 'tokenizer_vectors.json';
const TOKENIZER_DIRS = ['.', '../../../tokenizer'];

async function readJson(files: FolderReader, rel: string): Promise<any> {
  try {
    return JSON.parse(new TextDecoder().decode(await files.read(rel)));
  } catch (e) {
    throw new ConformanceError(`${files.dir}/${rel}: ${(e as Error).message}`);
  }
}

async function prompts(config: VectorConfig, dir: string): Promise<PromptVector[]> {
  const list = config.prompts as PromptVector[] | undefined;
  if (!Array.isArray(list) || !list.length || list.some((p) => typeof p.prompt !== 'string' || !Array.isArray(p.sd_input_ids))) {
    throw new ConformanceError(`${dir}/${VECTORS}: needs a non-empty "prompts" list of { prompt, sd_input_ids }`);
  }
  return list;
}

const idsName = (i: number) => `prompt${i}.sd_input_ids`;

export const runner: SetRunner = {
  name: 'clip_tokenizer',
  matches: (config: VectorConfig) => config.set === 'clip_tokenizer',
  hasInputs: false,
  async layouts(_config, files) {
    for (const d of TOKENIZER_DIRS) {
      if (await files.exists(`${d}/tokenizer.json`)) return [{ name: 'tokenizer.json', files: [`${d}/tokenizer.json`] }];
    }
    throw new ConformanceError(`${files.dir}: no tokenizer.json (looked in ${TOKENIZER_DIRS.map((d) => `${d}/`).join(' and ')})`);
  },
  async references(config, files) {
    const outputs = new Map<string, RefTensor>();
    for (const [i, p] of (await prompts(config, files.dir)).entries()) {
      outputs.set(idsName(i), { name: idsName(i), dtype: 'I64', shape: [p.sd_input_ids.length], data: Float64Array.from(p.sd_input_ids) });
    }
    return { outputs, semantics: Object.fromEntries([...outputs.keys()].map((k) => [k, 'both'])) };
  },

  async run(ctx: RunContext): Promise<RunOutputs> {
    const json = ctx.layout.files[0];
    const cfgPath = json.replace(/tokenizer\.json$/, 'tokenizer_config.json');
    const tokenizerConfig = (await ctx.files.exists(cfgPath)) ? await readJson(ctx.files, cfgPath) : {};
    const tok = createClipTokenizer(await readJson(ctx.files, json), tokenizerConfig);
    const out: RunOutputs = new Map();
    for (const [i, p] of (await prompts(ctx.config, ctx.dir)).entries()) {
      if (ctx.wanted.includes(idsName(i))) out.set(idsName(i), tok.tokenize(p.prompt));
    }
    return out;
  },
};
