// Runner for `freeinit_tiny` folders: the pipeline (src/pipeline/generate.ts) with FreeInit on (freeinit.ts), once
// per run in config.json `runs` (runs.<run>.enable_free_init = diffusers' enable_free_init arguments), from the
// folder's prompt embeddings and initial latents. FreeInit's fresh noise `<run>.free_init.iter{k}.z_rand` came from
// torch's generator, so it is replayed (never compared); everything derived from it is computed here: the filter,
// each iteration's timesteps, z_t and starting latents, every per-step record, the final latents and the video.
// Models as pipeline_tiny (config.json `weights`).
import { type FreeInitOptions, makeSpec } from '../../pipeline/spec';
import { generate, type FreeInitRecord, type StepRecord } from '../../pipeline/generate';
import { createScheduler, type SchedulerClass } from '../../schedulers';
import { ConformanceError, type RunContext, type RunOutputs, type SetRunner } from '../registry';
import { toF32 } from '../tensor-file';
import { loadPipelineModels, outputPutter, pipelineInputs, putStepRecord, runner as pipelineRunner, videoOutput } from './pipeline_tiny';

/** diffusers enable_free_init(...) keyword arguments → the pipeline's FreeInit options. */
function freeInitParams(run: string, a: Record<string, unknown> | undefined): FreeInitOptions {
  if (!a) throw new ConformanceError(`runs.${run} has no enable_free_init`);
  return {
    iterations: a.num_iters as number, fastSampling: a.use_fast_sampling as boolean, method: a.method as FreeInitOptions['method'],
    order: a.order as number, spatialStopFrequency: a.spatial_stop_frequency as number, temporalStopFrequency: a.temporal_stop_frequency as number,
  };
}

export const runner: SetRunner = {
  name: 'freeinit_tiny',
  matches: (config) => config.set === 'freeinit_tiny',
  layouts: pipelineRunner.layouts,
  // FreeInit's noise is an input replayed into the pipeline, not an output.
  notProduced: () => [/\.free_init\.iter\d+\.z_rand$/],
  outputsDependOnlyOnCanonicalWeights: true,

  async run(ctx: RunContext): Promise<RunOutputs> {
    const { engine: e, config } = ctx;
    const { runs, latentsShape, initialNoise, embeddings } = pipelineInputs(ctx);
    const { unet, vae, release } = await loadPipelineModels(ctx);
    const out: RunOutputs = new Map();
    const put = outputPutter(ctx, out);
    try {
      const [, C, F] = latentsShape;
      for (const [run, r] of Object.entries(runs)) {
        const scheduler = { className: r.scheduler_class as SchedulerClass, config: r.scheduler_config };
        if (ctx.wanted.includes('scheduler.alphas_cumprod')) put('scheduler.alphas_cumprod', createScheduler(scheduler.className, scheduler.config, r.num_inference_steps).alphasCumprod, false);
        if (!ctx.wanted.some((n) => n.startsWith(`${run}.`))) continue;
        const video = ctx.references.get(`${run}.video`);
        const records: StepRecord[] = [];
        const reinit: FreeInitRecord[] = [];
        const spec = makeSpec({
          prompt: '(replayed embeddings)', seed: 0, frames: config.num_frames ?? F, width: config.width, height: config.height,
          steps: r.num_inference_steps, guidance: r.guidance_scale, freeInit: freeInitParams(run, r.enable_free_init),
        });
        const res = await generate({ engine: e, unet, vae }, spec, { onStepRecord: (rec) => records.push(rec), onFreeInit: (rec) => reinit.push(rec) }, {
          scheduler,
          embeddings,
          initialNoise,
          freeInitNoise: (_n, k) => {
            const t = ctx.references.get(`${run}.free_init.iter${k}.z_rand`);
            if (!t) throw new ConformanceError(`${ctx.dir}: ${run} needs ${run}.free_init.iter${k}.z_rand to replay FreeInit's noise`);
            return toF32(t);
          },
          semantics: ctx.semantics,
          decode: video !== undefined, decodeFrames: video?.shape[1], keepFloatFrames: true,
        });

        res.iterationTimesteps.forEach((ts, k) => put(`${run}.free_init.iter${k}.timesteps`, Float32Array.from(ts), false));
        for (const fi of reinit) {
          // diffusers builds the filter as (1, C, F, h, w): the same volume in every channel.
          const filter = new Float32Array(C * fi.filter.length);
          for (let c = 0; c < C; c++) filter.set(fi.filter, c * fi.filter.length);
          put(`${run}.free_init.freq_filter`, filter, false);
          put(`${run}.free_init.iter${fi.iteration}.z_t`, fi.zT);
          put(`${run}.free_init.iter${fi.iteration}.latents_start`, fi.latentsStart);
        }
        for (const rec of records) putStepRecord(put, `${run}.iter${rec.iteration}.step${rec.step}`, rec);
        put(`${run}.latents_final`, res.latents);
        if (video && res.floatFrames) put(`${run}.video`, videoOutput(res.floatFrames, video.shape));
      }
    } finally {
      release();
    }
    return out;
  },
};
