// Runner for `pipeline_tiny` folders: the whole text-to-video loop (src/pipeline/generate.ts) with the folder's
// prompt embeddings and initial noise, once per run in config.json `runs` (scheduler class + config, steps,
// guidance), replaying LCM's recorded noise. The UNet / motion adapter / VAE are the files config.json `weights`
// points to (relative paths into sibling folders); their hyper-parameters come from those folders' config.json.
// Produces per run: scheduler tables, every per-step record, latents_final and the decoded `video` frames.
import { hyperParamsFromDiffusers, type Semantics } from '../../models/config';
import { UNetMotion } from '../../models/unet';
import { VaeDecoder } from '../../models/vae-decoder';
import { generate, type StepRecord } from '../../pipeline/generate';
import { makeSpec } from '../../pipeline/spec';
import { createScheduler, EulerDiscreteScheduler, type SchedulerClass } from '../../schedulers';
import { type CanonicalWeights, ConformanceError, type FolderReader, type RunContext, type RunOutputs, type SetRunner, type VectorConfig } from '../registry';
import { toF32 } from '../tensor-file';

export const dirname = (p: string) => p.slice(0, p.lastIndexOf('/') + 1);

/** A config.weights entry: "../../x/vA/unet_diffusers.safetensors (or unet_ldm.safetensors)" or "path — note". */
export function weightFile(config: VectorConfig, dir: string, key: string): { primary: string; alternative?: string } {
  const s = config.weights?.[key];
  if (typeof s !== 'string') throw new ConformanceError(`${dir}: config.json weights.${key} is missing`);
  const m = /^(\S+)(?:\s*\(or\s+(\S+?)\))?/.exec(s.trim())!;
  return { primary: m[1], alternative: m[2] ? dirname(m[1]) + m[2] : undefined };
}

/** The UNet, motion adapter and VAE files of config.weights. */
export function weightFiles(config: VectorConfig, dir: string): Record<'unet' | 'motion_adapter' | 'vae', { primary: string; alternative?: string }> {
  return { unet: weightFile(config, dir, 'unet'), motion_adapter: weightFile(config, dir, 'motion_adapter'), vae: weightFile(config, dir, 'vae') };
}

export async function readJson(files: FolderReader, rel: string): Promise<any> {
  if (!(await files.exists(rel))) throw new ConformanceError(`${files.dir}: ${rel} is missing`);
  return JSON.parse(new TextDecoder().decode(await files.read(rel)));
}

export const sfx = (s: Semantics) => (s === 'diffusers' ? '' : '_official');

/**
 * The UNet + motion adapter and the VAE of config.json `weights` (current layout), sized from their folders' configs.
 * `weights`: the layout's weights when the caller has loaded them already (for the text encoder too).
 */
export async function loadPipelineModels(ctx: RunContext, weights?: CanonicalWeights): Promise<{ unet: UNetMotion; vae: VaeDecoder; release(): void }> {
  const wf = weightFiles(ctx.config, ctx.dir);
  const unetCfg = await readJson(ctx.files, `${dirname(wf.unet.primary)}config.json`);
  const vaeCfg = (await readJson(ctx.files, `${dirname(wf.vae.primary)}config.json`)).vae_config ?? {};
  weights ??= await ctx.loadWeights(ctx.layout.files);
  const unet = await UNetMotion.load(ctx.engine, weights, hyperParamsFromDiffusers(unetCfg.unet_config ?? {}, unetCfg.motion_adapter_config ?? {}));
  try {
    const vae = await VaeDecoder.load(ctx.engine, weights, { groups: vaeCfg.norm_num_groups, scalingFactor: vaeCfg.scaling_factor });
    return { unet, vae, release: () => { vae.release(); unet.release(); } };
  } catch (e) {
    unet.release();
    throw e;
  }
}

/** Records semantics-dependent outputs under `_official` in official mode, semantics-free ones (`semantic` false) as named. */
export function outputPutter(ctx: RunContext, out: RunOutputs): (name: string, v: Float32Array, semantic?: boolean) => void {
  return (name, v, semantic = true) => {
    const n = semantic ? name + sfx(ctx.semantics) : name;
    if (ctx.wanted.includes(n)) out.set(n, v);
    else if (semantic && ctx.wanted.includes(name)) out.set(name, v); // stored once as "both"
  };
}

/** One sampling step's records under diffusers' names (`<prefix>.t`, `.latents_out`, …). */
export function putStepRecord(put: ReturnType<typeof outputPutter>, p: string, rec: StepRecord): void {
  put(`${p}.t`, Float32Array.of(rec.t), false);
  put(`${p}.latent_model_input`, rec.latentModelInput);
  put(`${p}.latents_in`, rec.latentsIn);
  if (rec.noisePredUncond) {
    put(`${p}.noise_pred_uncond`, rec.noisePredUncond);
    put(`${p}.noise_pred_text`, rec.noisePredText!);
    put(`${p}.noise_pred_guided`, rec.noisePred);
  } else {
    put(`${p}.noise_pred`, rec.noisePred);
  }
  put(`${p}.latents_out`, rec.latentsOut);
  put(`${p}.pred_original_sample`, rec.predOriginalSample);
}

/** Decoded float frames as the oracle's `video` (b, f, H, W, 3) for the first f frames of its shape. */
export function videoOutput(floatFrames: Float32Array[], shape: number[]): Float32Array {
  const [, vf, H, W, C] = shape;
  const v = new Float32Array(vf * H * W * C);
  for (let f = 0; f < vf; f++) v.set(floatFrames[f], f * H * W * C);
  return v;
}

/** The runs of config.json and the replayed inputs every pipeline-style set starts from (prompt embeddings, latents). */
export function pipelineInputs(ctx: RunContext) {
  const runs = ctx.config.runs as Record<string, any> | undefined;
  if (!runs || !Object.keys(runs).length) throw new ConformanceError(`${ctx.dir}: config.json has no runs`);
  for (const k of ['latents_init', 'prompt_embeds', 'negative_prompt_embeds']) {
    if (!ctx.inputs.has(k)) throw new ConformanceError(`${ctx.dir}: inputs.safetensors has no ${k}`);
  }
  const latentsInit = ctx.inputs.get('latents_init')!;
  const pos = ctx.inputs.get('prompt_embeds')!, neg = ctx.inputs.get('negative_prompt_embeds')!;
  const [, tokens, dim] = pos.shape;
  return {
    runs,
    /** latents_init is (b, C, F, h, w). */
    latentsShape: latentsInit.shape,
    initialNoise: toF32(latentsInit),
    embeddings: { positive: toF32(pos), negative: toF32(neg), tokens, dim },
  };
}

export const runner: SetRunner = {
  name: 'pipeline_tiny',
  matches: (config: VectorConfig) => config.set === 'pipeline_tiny',
  async layouts(config, files) {
    const w = weightFiles(config, files.dir);
    const layouts = [{ name: 'diffusers', files: [w.unet.primary, w.motion_adapter.primary, w.vae.primary] }];
    if (w.unet.alternative && w.motion_adapter.alternative && w.vae.alternative) {
      layouts.push({ name: 'ldm+original', files: [w.unet.alternative, w.motion_adapter.alternative, w.vae.alternative] });
    }
    const present = [];
    for (const l of layouts) if ((await Promise.all(l.files.map((f) => files.exists(f)))).every(Boolean)) present.push(l);
    if (!present.length) throw new ConformanceError(`${files.dir}: the weight files of config.json "weights" are missing (${layouts[0].files.join(', ')})`);
    return present;
  },
  // The recorded LCM noise is an input replayed into the scheduler, not an output.
  notProduced: () => [/\.lcm_noise\d+$/],
  // run() sees a layout only through ctx.loadWeights(layout.files): the LDM + original layout is checked to load
  // to the same canonical tensors instead of repeating every sampling run (2 semantics × 6 runs) on it.
  outputsDependOnlyOnCanonicalWeights: true,

  async run(ctx: RunContext): Promise<RunOutputs> {
    const { engine: e, config } = ctx;
    const { runs, latentsShape, initialNoise, embeddings } = pipelineInputs(ctx);
    const { unet, vae, release } = await loadPipelineModels(ctx);
    const out: RunOutputs = new Map();
    const put = outputPutter(ctx, out);
    try {
      const [, , F] = latentsShape;
      for (const [run, r] of Object.entries(runs)) {
        if (!ctx.wanted.some((n) => n.startsWith(`${run}.`))) continue;
        const video = ctx.references.get(`${run}.video`);
        const scheduler = { className: r.scheduler_class as SchedulerClass, config: r.scheduler_config };
        const records: StepRecord[] = [];
        const spec = makeSpec({
          prompt: '(replayed embeddings)', seed: 0, frames: config.num_frames ?? F, width: config.width, height: config.height,
          steps: r.num_inference_steps, guidance: r.guidance_scale,
        });
        const res = await generate({ engine: e, unet, vae }, spec, { onStepRecord: (rec) => records.push(rec) }, {
          scheduler,
          embeddings,
          initialNoise,
          schedulerNoise: (_n, i) => {
            const t = ctx.references.get(`${run}.lcm_noise${i}`);
            if (!t) throw new ConformanceError(`${ctx.dir}: ${run} needs ${run}.lcm_noise${i} to replay the scheduler's noise`);
            return toF32(t);
          },
          semantics: ctx.semantics,
          decode: video !== undefined, decodeFrames: video?.shape[1], keepFloatFrames: true,
        });

        // Scheduler tables (semantics-free), from the same scheduler construction the pipeline uses.
        const sch = createScheduler(scheduler.className, scheduler.config, r.num_inference_steps);
        put(`${run}.timesteps`, Float32Array.from(res.timesteps), false);
        put(`${run}.alphas_cumprod`, sch.alphasCumprod, false);
        put(`${run}.init_noise_sigma`, Float32Array.of(sch.initNoiseSigma), false);
        if (sch instanceof EulerDiscreteScheduler) put(`${run}.sigmas`, sch.sigmas, false);
        for (const rec of records) putStepRecord(put, `${run}.step${rec.step}`, rec);
        put(`${run}.latents_final`, res.latents);
        if (video && res.floatFrames) put(`${run}.video`, videoOutput(res.floatFrames, video.shape));
      }
    } finally {
      release();
    }
    return out;
  },
};
