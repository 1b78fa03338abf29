// Runner for `unet_motion_tiny` folders: diffusers UNetMotionModel (SD1.5 topology with motion modules) on
// sample (b, c, f, h, w), encoder_hidden_states (b, tokens, D) (one per sample: never repeated per frame here) and
// one `timestep_<call>` input per call. Produces `out_<call>` (diffusers) / `out_<call>_official`, and the
// float32 intermediates `inter_<call>[_official].<block>` (batch element 0) and `inter_<call>.time_embedding`.
import type { Engine } from '../../gpu/engine';
import type { Tensor } from '../../gpu/tensor';
import { hyperParamsFromDiffusers, type Semantics } from '../../models/config';
import type { WeightMap } from '../../weights/weight-map';
import { UNetMotion } from '../../models/unet';
import { framesToVideo, nhwcToNchw, videoToFrames } from '../../ops/layout';
import { ConformanceError, layoutsPresent, type RunContext, type RunOutputs, type SetRunner, type VectorConfig } from '../registry';
import type { RefTensor } from '../tensor-file';

/** Suffix of output names per semantics (README "Two semantics"). */
export const semanticsSuffix = (s: Semantics): string => (s === 'diffusers' ? '' : '_official');

/** The UNet's inputs on the GPU: latents as frames [b*F, h, w, c], text [b, tokens, D]. */
export interface UNetInputs {
  latents: Tensor;
  text: Tensor;
  batch: number;
  frames: number;
  release(): void;
}

export function uploadUNetInputs(e: Engine, inputs: Map<string, RefTensor>, dir: string): UNetInputs {
  const sample = inputs.get('sample');
  const ehs = inputs.get('encoder_hidden_states');
  if (!sample || sample.shape.length !== 5) throw new ConformanceError(`${dir}: inputs.safetensors needs sample (b, c, f, h, w)`);
  if (!ehs || ehs.shape.length !== 3 || ehs.shape[0] !== sample.shape[0]) {
    throw new ConformanceError(`${dir}: inputs.safetensors needs encoder_hidden_states (b, tokens, D), one per sample`);
  }
  const video = e.upload(Float32Array.from(sample.data), sample.shape);
  const latents = videoToFrames(e, video);
  video.release();
  const text = e.upload(Float32Array.from(ehs.data), ehs.shape);
  return {
    latents, text, batch: sample.shape[0], frames: sample.shape[2],
    release() { latents.release(); text.release(); },
  };
}

/**
 * One UNet call, producing whichever of `out<suffix>`, `inter<suffix>.<block>` and the semantics-free
 * `time_embedding` intermediate are in `wanted`. `interPrefix` e.g. `inter_t501`, `outName` e.g. `out_t501`.
 */
export async function runUNetCall(
  e: Engine, unet: UNetMotion, x: UNetInputs, timesteps: number[], semantics: Semantics,
  names: { out: string; interPrefix?: string }, wanted: readonly string[], out: RunOutputs,
): Promise<void> {
  const sfx = semanticsSuffix(semantics);
  const outName = names.out + sfx;
  const pending: [string, Promise<Float32Array>][] = [];
  const onIntermediate = (block: string, t: Tensor) => {
    if (!names.interPrefix) return;
    const key = block === 'time_embedding' ? `${names.interPrefix}.${block}` : `${names.interPrefix}${sfx}.${block}`;
    if (!wanted.includes(key)) return;
    if (t.shape.length === 2) {
      pending.push([key, e.read(t)]);
      return;
    }
    // Block outputs are stored for batch element 0 only: rows 0..F-1, as (f, c, h, w).
    const nchw = nhwcToNchw(e, t.slice0(0, x.frames));
    pending.push([key, e.read(nchw)]); // the copy is recorded now; releasing after is ordered behind it
    nchw.release();
  };
  if (!wanted.includes(outName) && !wanted.some((w) => names.interPrefix && w.startsWith(names.interPrefix))) return;
  const y = unet.forward(x.latents, timesteps, x.text, x.frames, { semantics, onIntermediate });
  const video = framesToVideo(e, y, x.batch);
  y.release();
  const values = e.read(video);
  video.release();
  if (wanted.includes(outName)) out.set(outName, await values);
  else await values;
  for (const [k, p] of pending) out.set(k, await p);
}

/** Load a UNet with motion modules from canonical weights, hyper-parameters from the folder's config.json. */
export function loadUNet(e: Engine, weights: WeightMap, config: VectorConfig): Promise<UNetMotion> {
  if (!config.unet_config) throw new ConformanceError('config.json has no unet_config');
  return UNetMotion.load(e, weights, hyperParamsFromDiffusers(config.unet_config, config.motion_adapter_config ?? {}));
}

export const runner: SetRunner = {
  name: 'unet_motion_tiny',
  matches: (config: VectorConfig) => config.set === 'unet_motion_tiny',
  layouts: (_config, files) => layoutsPresent(files, [
    { name: 'diffusers', files: ['unet_diffusers.safetensors', 'motion_adapter_diffusers.safetensors'] },
    { name: 'ldm+original', files: ['unet_ldm.safetensors', 'motion_module_original.safetensors'] },
  ], 'UNet + motion module'),

  async run(ctx: RunContext): Promise<RunOutputs> {
    const { engine: e, inputs } = ctx;
    const calls = [...inputs.keys()].filter((k) => k.startsWith('timestep_')).map((k) => k.slice('timestep_'.length));
    if (!calls.length) throw new ConformanceError(`${ctx.dir}: inputs.safetensors has no timestep_<call> tensors`);
    const unet = await loadUNet(e, await ctx.loadWeights(ctx.layout.files), ctx.config);
    const out: RunOutputs = new Map();
    let x: UNetInputs | null = null;
    try {
      x = uploadUNetInputs(e, inputs, ctx.dir);
      for (const call of calls) {
        const timesteps = Array.from(inputs.get(`timestep_${call}`)!.data);
        await runUNetCall(e, unet, x, timesteps, ctx.semantics, { out: `out_${call}`, interPrefix: `inter_${call}` }, ctx.wanted, out);
      }
    } finally {
      x?.release();
      unet.release();
    }
    return out;
  },
};
