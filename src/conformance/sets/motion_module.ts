// Runner for `motion_module` folders: one AnimateDiff temporal transformer (diffusers AnimateDiffTransformer3D /
// original VanillaTemporalModule) on hidden_states (b*f, C, H, W). Sizes and options come from config.json
// (`diffusers_config`, `input.num_frames`) and the tensor headers.
import type { Tensor } from '../../gpu/tensor';
import { MotionModule } from '../../models/motion-module';
import { nchwToNhwc, nhwcToNchw } from '../../ops/layout';
import { ConformanceError, layoutsPresent, type RunContext, type RunOutputs, type SetRunner, type VectorConfig } from '../registry';

/** The output each semantics produces: `out_diffusers` pools the GroupNorm over frames, `out_original` does not. */
const OUTPUT = { diffusers: 'out_diffusers', official_animatediff: 'out_original' } as const;

export const runner: SetRunner = {
  name: 'motion_module',
  matches: (config: VectorConfig) => config.set === 'motion_module',
  layouts: (_config, files) => layoutsPresent(files, [
    { name: 'diffusers', files: ['weights_diffusers.safetensors'] },
    { name: 'original', files: ['weights_original.safetensors'] },
  ], 'motion module'),
  // float32 intermediates of the diffusers forward (after GroupNorm / block 0 / proj_out) have no hook here.
  notProduced: () => [/^diffusers_after_/],

  async run(ctx: RunContext): Promise<RunOutputs> {
    const { engine: e, config, inputs } = ctx;
    const out: RunOutputs = new Map();
    const name = OUTPUT[ctx.semantics];
    if (!ctx.wanted.includes(name)) return out;
    const cfg = config.diffusers_config ?? {};
    const frames = config.input?.num_frames;
    const x = inputs.get('hidden_states');
    if (!x || x.shape.length !== 4) throw new ConformanceError(`${ctx.dir}: inputs.safetensors needs hidden_states (b*f, C, H, W)`);
    if (!Number.isInteger(frames) || x.shape[0] % frames !== 0) throw new ConformanceError(`${ctx.dir}: config input.num_frames ${frames} does not divide ${x.shape[0]} rows`);
    const weights = await ctx.loadWeights(ctx.layout.files);
    const mm = await MotionModule.load(e, weights, {
      heads: cfg.num_attention_heads ?? 8, groups: cfg.norm_num_groups ?? 32, peLength: cfg.num_positional_embeddings,
    });
    const live: Tensor[] = [];
    try {
      const nchw = e.upload(Float32Array.from(x.data), x.shape);
      live.push(nchw);
      const nhwc = nchwToNhwc(e, nchw);
      live.push(nhwc);
      const y = mm.forward(e, nhwc, frames, ctx.semantics === 'diffusers' ? frames : 1);
      live.push(y);
      const yNchw = nhwcToNchw(e, y);
      live.push(yNchw);
      out.set(name, await e.read(yNchw));
    } finally {
      for (const t of live) t.release();
      mm.release();
    }
    return out;
  },
};
