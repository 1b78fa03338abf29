// generate() with the spec's long-animation options on the oracle's tiny models (UNet + adapter of
// unet_motion_tiny/vA; a deterministic stand-in text encoder: prompts → fixed random embeddings):
// prompt travel without FreeNoise goes through the per-frame cross-attention; FreeNoise's seeded shuffle noise and
// motion strength reach the UNet; bad FreeNoise settings are refused by name. (Every FreeNoise / prompt-travel
// tensor of diffusers is compared by the conformance harness: freenoise_tiny, prompt_travel_tiny.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hyperParamsFromDiffusers } from '../src/models/config';
import { UNetMotion } from '../src/models/unet';
import { VaeDecoder } from '../src/models/vae-decoder';
import { GenerateRequestError } from '../src/pipeline/errors';
import { freeNoiseInitialNoise } from '../src/pipeline/freenoise';
import { generate, type PipelineModels, type TextConditioner } from '../src/pipeline/generate';
import { makeSpec } from '../src/pipeline/spec';
import { openNodeFileSource } from '../src/platform/node-file-source';
import { loadWeights } from '../src/weights/load';
import { openSafetensors } from '../src/weights/safetensors';
import { testEngine } from './gpu';
import { maxAbsDiff, randn } from './random';

const VECTORS = path.resolve(__dirname, '../../shared/oracle/vectors');
const unetConfig = JSON.parse(readFileSync(path.join(VECTORS, 'unet_motion_tiny/vA/config.json'), 'utf8'));
const vaeConfig = JSON.parse(readFileSync(path.join(VECTORS, 'vae_decoder_tiny/vA/config.json'), 'utf8')).vae_config;

/** Prompts → [n, 77, D]: each distinct prompt its own fixed random embedding (a stand-in for CLIP). */
function fakeText(dim: number): TextConditioner & { calls: string[][] } {
  const seeds = new Map<string, number>();
  const calls: string[][] = [];
  return {
    tokens: 77, dim, calls,
    async encode(prompts) {
      calls.push(prompts);
      const out = new Float32Array(prompts.length * 77 * dim);
      prompts.forEach((p, i) => {
        if (!seeds.has(p)) seeds.set(p, 100 + seeds.size);
        out.set(randn(77 * dim, seeds.get(p)!), i * 77 * dim);
      });
      return out;
    },
  };
}

let shared: Promise<PipelineModels & { text: ReturnType<typeof fakeText> }> | null = null;
function models() {
  shared ??= (async () => {
    const e = await testEngine('f32');
    const dir = path.join(VECTORS, 'unet_motion_tiny/vA');
    const files = [path.join(dir, 'unet_diffusers.safetensors'), path.join(dir, 'motion_adapter_diffusers.safetensors'), path.join(VECTORS, 'vae_decoder_tiny/vA/vae_diffusers.safetensors')];
    const w = await loadWeights(await Promise.all(files.map(async (f) => openSafetensors(await openNodeFileSource(f)))));
    const unet = await UNetMotion.load(e, w.unet!, hyperParamsFromDiffusers(unetConfig.unet_config, unetConfig.motion_adapter_config), { semantics: 'diffusers' });
    const vae = await VaeDecoder.load(e, w.vae!, { groups: vaeConfig.norm_num_groups, scalingFactor: vaeConfig.scaling_factor });
    return { engine: e, unet, vae, text: fakeText(unet.topology.crossAttentionDim) };
  })();
  return shared;
}

const base = { seed: 7, frames: 12, width: 64, height: 64, steps: 2, guidance: 7.5, scheduler: 'ddim' as const };

describe('generate() with long-animation options', () => {
  it('prompt travel without FreeNoise: keyframes of one prompt equal the single prompt; two prompts change the clip', async () => {
    const m = await models();
    const run = async (prompts: { frame: number; prompt: string }[]) =>
      (await generate(m, makeSpec({ ...base, prompts, negativePrompt: 'blurry' }), {}, { decode: false })).latents;
    const single = await run([{ frame: 0, prompt: 'a' }]);
    const travel = await run([{ frame: 0, prompt: 'a' }, { frame: 5, prompt: 'a' }]);
    expect(m.text.calls.at(-2)).toEqual(['a', 'a', 'a']); // keyframes 0, 5 and the completed 11, encoded once each
    expect(m.text.calls.at(-1)).toEqual(['blurry', 'blurry']);
    const d = maxAbsDiff(travel, single);
    // The per-frame path ((1−a)·E + a·E = E up to float32 rounding) through the per-frame cross-attention.
    expect(d.maxAbs, `per-frame vs per-sample text: ${d.maxAbs}`).toBeLessThan(1e-4 * d.refMax);
    const two = await run([{ frame: 0, prompt: 'a' }, { frame: 6, prompt: 'b' }]);
    expect(maxAbsDiff(two, single).maxAbs).toBeGreaterThan(1e-2 * d.refMax);
  }, 600_000);

  it('FreeNoise: the seed\'s shuffled noise starts the loop, windows and motion strength act; bad settings are refused', async () => {
    const m = await models();
    const context = { method: 'freenoise' as const, length: 8, stride: 4, weighting: 'pyramid' as const, noise: 'shuffle_context' as const };
    const spec = makeSpec({ ...base, prompt: 'a', context });
    const first: Float32Array[] = [];
    const res = await generate(m, spec, { onStepRecord: (r) => { if (r.step === 0) first.push(r.latentsIn); } }, { decode: false });
    const [C, h, w] = [m.unet.topology.inChannels, base.height / 8, base.width / 8];
    expect(first[0]).toEqual(freeNoiseInitialNoise(base.seed, C, base.frames, h, w, context)); // DDIM: init_noise_sigma 1
    const plain = await generate(m, makeSpec({ ...base, prompt: 'a' }), {}, { decode: false, initialNoise: first[0] });
    expect(maxAbsDiff(res.latents, plain.latents).maxAbs).toBeGreaterThan(1e-3 * maxAbsDiff(plain.latents, plain.latents.map(() => 0)).refMax);
    const weak = await generate(m, makeSpec({ ...base, prompt: 'a', context, motionStrength: 0.5 }), {}, { decode: false });
    expect(maxAbsDiff(weak.latents, res.latents).maxAbs).toBeGreaterThan(0);
    await expect(generate(m, makeSpec({ ...base, prompt: 'a', context: { ...context, length: 13 } }), {}, { decode: false })).rejects.toThrow(GenerateRequestError);
    await expect(generate(m, makeSpec({ ...base, prompt: 'a', context: { ...context, length: 13 } }), {}, { decode: false })).rejects.toThrow(/context length 13 exceeds the 12 frames/);
    // stride > length leaves frames without temporal attention: the spec refuses it (a SpecError naming the field).
    await expect((async () => generate(m, makeSpec({ ...base, prompt: 'a', context: { ...context, stride: 9 } }), {}, { decode: false }))()).rejects.toThrow(/stride/);
  }, 600_000);
});
