// The runner of the FreeNoise oracle sets (`freenoise_tiny`, `prompt_travel_tiny`): diffusers' AnimateDiffPipeline
// with `enable_free_noise` run through the project's pipeline end to end — prompts through the real tokenizer and
// CLIP text encoder, keyframe interpolation (src/pipeline/prompt-travel.ts), FreeNoise's shuffled initial noise
// (src/pipeline/freenoise.ts, replaying the recorded raw noise and torch.randperm draws), generate() with the
// spec's FreeNoise context, the decoded video, and a window-by-window probe of the recorded motion-module block at
// the first UNet call (generate's motionProbe).
// Models: the files config.json `weights` names (UNet + adapter + VAE in sibling folders, the tiny text encoder);
// hyper-parameters from those folders' config.json; the tokenizer from the oracle tree's tokenizer/.
import type { Semantics } from '../models/config';
import type { MotionProbeFn } from '../models/forward-context';
import { shuffleFrames, shuffleSchedule } from '../pipeline/freenoise';
import { generate, type PipelineModels, type StepRecord, type TextConditioner } from '../pipeline/generate';
import { completeKeyframes, type PromptKeyframe, travelEmbeddings } from '../pipeline/prompt-travel';
import { makeSpec } from '../pipeline/spec';
import { createScheduler, type SchedulerClass } from '../schedulers';
import { createClipTextEncoder } from '../text/clip-encoder';
import { createClipTokenizer } from '../text/tokenizer';
import { ConformanceError, type RunContext, type RunOutputs, type SetRunner, type VectorConfig, type WeightLayout } from './registry';
import { loadPipelineModels, outputPutter, putStepRecord, readJson, videoOutput, weightFile } from './sets/pipeline_tiny';
import { toF32 } from './tensor-file';

const TOKENIZER_DIR = '../../../tokenizer';

/** A str prompt is {0: str}; a dict {frame: prompt}; null → "" (diffusers' _encode_prompt_free_noise). */
function keyframesOf(v: unknown, what: string): PromptKeyframe[] {
  if (v === null || v === undefined) return [{ frame: 0, prompt: '' }];
  if (typeof v === 'string') return [{ frame: 0, prompt: v }];
  if (typeof v === 'object') return Object.entries(v as Record<string, string>).map(([f, prompt]) => ({ frame: Number(f), prompt }));
  throw new ConformanceError(`config.json ${what} is neither a string, a {frame: prompt} object nor null`);
}

/** (row (b*F + f)*P + p) token layout [b*F, P, C] → diffusers' motion-block layout (b*P + p, F, C). */
function tokensToSequences(x: Float32Array, frames: number, P: number, C: number): Float32Array {
  const B = x.length / (frames * P * C);
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++) for (let f = 0; f < frames; f++) for (let p = 0; p < P; p++) {
    out.set(x.subarray(((b * frames + f) * P + p) * C, ((b * frames + f) * P + p + 1) * C), ((b * P + p) * frames + f) * C);
  }
  return out;
}

/** The probed block named in config.json `outputs` (e.g. "unet.down_blocks.3.motion_modules.0.transformer_blocks.0"). */
function probedBlock(config: VectorConfig, dir: string): { module: string; block: number } {
  const text = JSON.stringify(config.outputs ?? {});
  const m = /unet\.([\w.]+?motion_modules\.\d+)\.transformer_blocks\.(\d+)/.exec(text);
  if (!m) throw new ConformanceError(`${dir}: config.json outputs does not name the probed motion-module block`);
  return { module: m[1], block: Number(m[2]) };
}

export function longAnimationRunner(set: string): SetRunner {
  return {
    name: set,
    matches: (config: VectorConfig) => config.set === set,
    async layouts(config, files) {
      const [u, a, v] = ['unet', 'motion_adapter', 'vae'].map((k) => weightFile(config, files.dir, k));
      const text = weightFile(config, files.dir, 'text_encoder').primary;
      const layouts: WeightLayout[] = [{ name: 'diffusers', files: [u.primary, a.primary, v.primary, text] }];
      if (u.alternative && a.alternative && v.alternative) layouts.push({ name: 'ldm+original', files: [u.alternative, a.alternative, v.alternative, text] });
      const present: WeightLayout[] = [];
      for (const l of layouts) if ((await Promise.all(l.files.map((f) => files.exists(f)))).every(Boolean)) present.push(l);
      if (!present.length) throw new ConformanceError(`${files.dir}: the weight files of config.json "weights" are missing (${layouts[0].files.join(', ')})`);
      return present;
    },
    // The generator's raw draw and torch.randperm's permutations are replayed into the noise preparation.
    notProduced: () => [/\.free_noise\.(raw_noise|perm\d+)$/],
    outputsDependOnlyOnCanonicalWeights: true,
    run,
  };
}

async function run(ctx: RunContext): Promise<RunOutputs> {
  const { engine: e, config, files, references: refs } = ctx;
  const runs = config.runs as Record<string, any> | undefined;
  if (!runs || !Object.keys(runs).length) throw new ConformanceError(`${ctx.dir}: config.json has no runs`);
  const F: number = config.num_frames;
  const tc = config.text_config;
  if (!tc) throw new ConformanceError(`${ctx.dir}: config.json has no text_config`);
  const tokenizer = createClipTokenizer(await readJson(files, `${TOKENIZER_DIR}/tokenizer.json`),
    (await files.exists(`${TOKENIZER_DIR}/tokenizer_config.json`)) ? await readJson(files, `${TOKENIZER_DIR}/tokenizer_config.json`) : {});
  const weights = await ctx.loadWeights(ctx.layout.files);
  const encoder = await createClipTextEncoder(weights, { heads: tc.num_attention_heads, hiddenAct: tc.hidden_act, layerNormEps: tc.layer_norm_eps, clipSkip: 0 });
  const out: RunOutputs = new Map();
  const put = outputPutter(ctx, out);
  let release = () => {};
  try {
    const text: TextConditioner = {
      tokens: tokenizer.maxLength, dim: encoder.width,
      async encode(prompts, clipSkip) {
        if (clipSkip !== 0) throw new ConformanceError(`${ctx.dir}: the oracle ran clip_skip 0, the pipeline asked for ${clipSkip}`);
        const ids = new Int32Array(prompts.length * tokenizer.maxLength);
        prompts.forEach((p, i) => ids.set(tokenizer.tokenize(p), i * tokenizer.maxLength));
        return encoder.encode(ids, prompts.length);
      },
    };
    const encode = (prompts: string[]) => text.encode(prompts, 0);
    const positive = keyframesOf(config.prompt, 'prompt');
    const negative = keyframesOf(config.negative_prompt, 'negative_prompt');
    if (negative.length !== 1) throw new ConformanceError(`${ctx.dir}: negative prompt keyframes are not part of GenerationSpec`);
    await checkTokenIds(ctx, tokenizer.tokenize, positive, negative, F);

    // Text: the keyframe embeddings the encoder gives, and the per-frame embeddings the UNet gets.
    if (ctx.wanted.includes('text.prompt_embeds')) put('text.prompt_embeds', await encode(positive.map((k) => k.prompt)), false);
    if (ctx.wanted.includes('text.negative_prompt_embeds')) put('text.negative_prompt_embeds', await encode(negative.map((k) => k.prompt)), false);
    if (ctx.wanted.includes('text.keyframe_prompt_embeds')) put('text.keyframe_prompt_embeds', await encode(completeKeyframes(positive, F).map((k) => k.prompt)), false);
    if (ctx.wanted.includes('text.keyframe_negative_prompt_embeds')) put('text.keyframe_negative_prompt_embeds', await encode(completeKeyframes(negative, F).map((k) => k.prompt)), false);
    if (ctx.wanted.includes('text.prompt_embeds_frames')) put('text.prompt_embeds_frames', await travelEmbeddings(encode, positive, F), false);
    if (ctx.wanted.includes('text.negative_prompt_embeds_frames')) put('text.negative_prompt_embeds_frames', await travelEmbeddings(encode, negative, F), false);

    const { unet, vae, release: releaseModels } = await loadPipelineModels(ctx, weights);
    release = releaseModels;
    const models: PipelineModels = { engine: e, unet, vae, text };
    const probe = probedBlock(config, ctx.dir);
    for (const [name, r] of Object.entries(runs)) {
      if (!ctx.wanted.some((n) => n.startsWith(`${name}.`) || n.startsWith('scheduler.'))) continue;
      const fn = r.free_noise?.enable_free_noise_kwargs ?? {};
      if (fn.noise_type !== 'shuffle_context') throw new ConformanceError(`${ctx.dir}: run ${name} uses noise_type ${fn.noise_type}; only shuffle_context is recorded`);
      const context = { method: 'freenoise' as const, length: fn.context_length, stride: fn.context_stride, weighting: fn.weighting_scheme, noise: 'shuffle_context' as const };
      // Noise: the recorded draw, shuffled here with the recorded permutations.
      const raw = refs.get(`${name}.free_noise.raw_noise`);
      if (!raw) throw new ConformanceError(`${ctx.dir}: ${name}.free_noise.raw_noise is missing`);
      const [, C, , h, w] = raw.shape;
      const steps = shuffleSchedule(F, context);
      const perms = steps.map((_, k) => {
        const p = refs.get(`${name}.free_noise.perm${k}`);
        if (!p) throw new ConformanceError(`${ctx.dir}: ${name}.free_noise.perm${k} is missing (the shuffle has ${steps.length} steps)`);
        return Int32Array.from(p.data);
      });
      const noise = shuffleFrames(toF32(raw), C, F, h * w, steps, perms);
      put(`${name}.latents_init`, noise, false);

      const spec = makeSpec({
        prompts: positive, negativePrompt: negative[0].prompt, seed: 0, frames: F, width: config.width, height: config.height,
        steps: r.num_inference_steps, guidance: r.guidance_scale, context,
      });
      const scheduler = { className: r.scheduler_class as SchedulerClass, config: r.scheduler_config };
      const video = refs.get(`${name}.video`);
      const records: StepRecord[] = [];
      const semantics: Semantics = ctx.semantics;
      const pending: Promise<void>[] = [];
      const L = context.length;
      // The probed block's tensors come in the [b*F, h*w, C] token layout; the oracle's is (b*h*w, F, C).
      const probeFn: MotionProbeFn = (what, t) => {
        const [, P, Cb] = t.shape;
        const frames = what.startsWith('window') ? L : F;
        // read() records its copy at once (the tensor is released after this returns).
        pending.push(e.read(t).then((data) => put(`${name}.probe.${what}`, tokensToSequences(data, frames, P, Cb))));
      };
      const wantsProbe = ctx.wanted.some((n) => n.startsWith(`${name}.probe.`));
      const res = await generate(models, spec, { onStepRecord: (rec) => records.push(rec) }, {
        scheduler, initialNoise: noise, semantics, decode: video !== undefined, decodeFrames: video?.shape[1], keepFloatFrames: true,
        motionProbe: wantsProbe ? { ...probe, fn: probeFn } : undefined,
      });
      await Promise.all(pending);
      const sch = createScheduler(scheduler.className, scheduler.config, r.num_inference_steps);
      put(`${name}.timesteps`, Float32Array.from(res.timesteps), false);
      put('scheduler.alphas_cumprod', sch.alphasCumprod, false);
      for (const rec of records) putStepRecord(put, `${name}.step${rec.step}`, rec);
      put(`${name}.latents_final`, res.latents);
      if (video && res.floatFrames) put(`${name}.video`, videoOutput(res.floatFrames, video.shape));
    }
  } finally {
    release();
    await encoder.dispose();
  }
  return out;
}

/** The tokenizer must give the token ids diffusers fed its text encoder (inputs.safetensors). */
async function checkTokenIds(ctx: RunContext, tokenize: (p: string) => Int32Array, positive: PromptKeyframe[], negative: PromptKeyframe[], F: number): Promise<void> {
  const pairs: [string, string[]][] = [
    ['prompt_input_ids', positive.map((k) => k.prompt)],
    ['negative_prompt_input_ids', negative.map((k) => k.prompt)],
    ['keyframe_prompt_input_ids', completeKeyframes(positive, F).map((k) => k.prompt)],
    ['keyframe_negative_prompt_input_ids', completeKeyframes(negative, F).map((k) => k.prompt)],
  ];
  for (const [name, prompts] of pairs) {
    const ref = ctx.inputs.get(name);
    if (!ref) continue;
    const ids = prompts.flatMap((p) => [...tokenize(p)]);
    if (ids.length !== ref.data.length || ids.some((id, i) => id !== ref.data[i])) {
      throw new ConformanceError(`${ctx.dir}: the tokenizer's ids for ${name} differ from inputs.safetensors`);
    }
  }
}
