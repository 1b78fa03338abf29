// Runner for `vae_decoder_tiny` folders: diffusers AutoencoderKL decoder on `latents` (n, 4, h, w) in pipeline
// space, scaled by the float32 reciprocal of vae_config.scaling_factor inside the decoder; output `image`
// (n, 3, 8h, 8w). Frame by frame, as the pipeline decodes.
import type { Tensor } from '../../gpu/tensor';
import { VaeDecoder } from '../../models/vae-decoder';
import { ConformanceError, layoutsPresent, type RunContext, type RunOutputs, type SetRunner, type VectorConfig } from '../registry';

export const runner: SetRunner = {
  name: 'vae_decoder_tiny',
  matches: (config: VectorConfig) => config.set === 'vae_decoder_tiny',
  layouts: (_config, files) => layoutsPresent(files, [
    { name: 'diffusers', files: ['vae_diffusers.safetensors'] },
    { name: 'ldm', files: ['vae_ldm.safetensors'] },
  ], 'VAE'),

  async run(ctx: RunContext): Promise<RunOutputs> {
    const { engine: e, config, inputs } = ctx;
    const out: RunOutputs = new Map();
    if (!ctx.wanted.some((n) => n === 'image' || n.startsWith('inter.'))) return out;
    const latents = inputs.get('latents');
    if (!latents || latents.shape.length !== 4) throw new ConformanceError(`${ctx.dir}: inputs.safetensors needs latents (n, c, h, w)`);
    const vc = config.vae_config;
    if (!vc) throw new ConformanceError(`${ctx.dir}: config.json has no vae_config`);
    const vae = await VaeDecoder.load(e, await ctx.loadWeights(ctx.layout.files), {
      groups: vc.norm_num_groups, scalingFactor: vc.scaling_factor,
    });
    try {
      const [n, c, h, w] = latents.shape;
      const planes: Float32Array[] = [];
      let H = 0, W = 0, C = 0;
      // Intermediates are stored for frame 0 as (1, C, h', w'): read them NHWC, transpose after.
      const pending: [string, number[], Promise<Float32Array>][] = [];
      const onIntermediate = (name: string, t: Tensor) => {
        if (ctx.wanted.includes(`inter.${name}`)) pending.push([`inter.${name}`, [...t.shape], e.read(t)]);
      };
      for (let i = 0; i < n; i++) {
        const img = vae.decodeFrame(Float32Array.from(latents.data.subarray(i * c * h * w, (i + 1) * c * h * w)), h, w, i === 0 ? onIntermediate : undefined);
        [, H, W, C] = img.shape;
        try {
          planes.push(await e.read(img));
        } finally {
          img.release();
        }
      }
      // NHWC frames → (n, C, H, W).
      const image = new Float32Array(n * C * H * W);
      planes.forEach((p, i) => {
        for (let ch = 0; ch < C; ch++) for (let px = 0; px < H * W; px++) image[(i * C + ch) * H * W + px] = p[px * C + ch];
      });
      out.set('image', image);
      for (const [name, [, hh, ww, cc], p] of pending) out.set(name, nhwcToNchw(await p, hh, ww, cc));
    } finally {
      vae.release();
    }
    return out;
  },
};

/** One NHWC image [h, w, c] → (c, h, w). */
function nhwcToNchw(x: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[ch * h * w + p] = x[p * c + ch];
  return out;
}
