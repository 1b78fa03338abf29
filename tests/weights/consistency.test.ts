// Components whose shapes do not fit each other are refused at load with a named problem, before anything is
// uploaded or run. The mismatching components are built from the tiny oracle model's own shape tables (every
// width derived from the weights), so each test changes exactly one width.
import { describe, expect, it } from 'vitest';
import { checkConfigsMatchWeights } from '../../src/weights/consistency';
import { WeightFileError } from '../../src/weights/errors';
import { expectedMotionShapes, expectedTextShapes, expectedVaeShapes, inferMotionConfig, inferTextConfig, inferVaeConfig, type ShapeTable } from '../../src/weights/layouts/expected';
import { loadWeights } from '../../src/weights/load';
import { openSafetensorsBytes, type SafetensorsFile, writeSafetensors } from '../../src/weights/safetensors';
import { describeError } from '../../src/worker/errors';
import { randn } from '../random';
import { tinyModelResponse } from '../../e2e/tiny-model';
import { oracleFiles } from '../oracle';

const open = oracleFiles();

const shapesOf = (f: SafetensorsFile) => new Map([...f.tensors].map(([k, t]) => [k, t.shape] as const));

/** A file with random values for every key of `table`. */
function fileFrom(table: ShapeTable, name: string): Promise<SafetensorsFile> {
  let seed = 1;
  const tensors = [...table].map(([k, shape]) => ({ name: k, dtype: 'F32' as const, shape, data: randn(shape.reduce((a, b) => a * b, 1), seed++, 0.02) }));
  return openSafetensorsBytes(writeSafetensors(tensors), name);
}

/** A copy of `file` with `key` given `shape` (random values). */
async function withShape(file: SafetensorsFile, key: string, shape: number[], name: string): Promise<SafetensorsFile> {
  const table: ShapeTable = new Map([...file.tensors].map(([k, t]) => [k, k === key ? shape : t.shape]));
  return fileFrom(table, name);
}

async function refusal(p: Promise<unknown>): Promise<WeightFileError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(WeightFileError);
  return e as WeightFileError;
}

describe('component shapes at load', () => {
  // The oracle's tiny CLIP is 12 wide and its tiny UNet attends to 32-wide text (they come from separate sets), so
  // the text encoder here is the tiny CLIP's shape table at the UNet's cross-attention width (as e2e/tiny-model.ts).
  const parts = async () => {
    const unet = await open('unet_motion_tiny/vA/unet_diffusers.safetensors');
    const cross = unet.tensors.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')!.shape[1];
    const clip = inferTextConfig(shapesOf(await open('clip_text_tiny/vA/text_encoder_transformers.safetensors')));
    return {
      unet,
      motion: await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors'),
      vae: await open('vae_decoder_tiny/vA/vae_diffusers.safetensors'),
      text: await fileFrom(expectedTextShapes({ ...clip, width: cross }), 'text_encoder.safetensors'),
    };
  };

  it('the tiny model\'s components fit each other (the checks refuse nothing valid)', async () => {
    const p = await parts();
    const w = await loadWeights([p.unet, p.motion, p.vae, p.text]);
    expect(w.unetConfig!.crossAttentionDim).toBe(w.textConfig!.width);
  });

  it('the tiny model the app serves (e2e/tiny-model.ts) fits, configs included', async () => {
    const body = (n: string) => tinyModelResponse(n, undefined).body;
    const files = await Promise.all(['unet_diffusers.safetensors', 'motion_adapter_diffusers.safetensors', 'vae_diffusers.safetensors', 'text_encoder_transformers.safetensors']
      .map((n) => openSafetensorsBytes(new Uint8Array(body(n)), n)));
    const w = await loadWeights(files);
    const cfg = (n: string) => JSON.parse(body(n).toString('utf8'));
    expect(() => checkConfigsMatchWeights({ unet: cfg('unet_config.json'), motionAdapter: cfg('motion_adapter_config.json'), vae: cfg('vae_config.json'), text: cfg('text_encoder_config.json') }, w, w.owners!)).not.toThrow();
  });

  it('an inpainting UNet (conv_in takes 2·latent + 1 channels) is "an inpainting model: not supported yet"', async () => {
    const p = await parts();
    const [c0, z, kh, kw] = p.unet.tensors.get('conv_in.weight')!.shape;
    const inpaint = await withShape(p.unet, 'conv_in.weight', [c0, 2 * z + 1, kh, kw], 'sd-inpainting.safetensors');
    const e = await refusal(loadWeights([inpaint, p.motion, p.vae, p.text]));
    expect(e.code).toBe('unsupported-model');
    expect(e.message).toMatch(/^sd-inpainting\.safetensors: this is an inpainting model: not supported yet/);
    const u = describeError(e);
    expect(u.kind).toBe('unsupported-model');
    expect(u.message).toMatch(/an inpainting model: not supported yet/);
    const pix2pix = await withShape(p.unet, 'conv_in.weight', [c0, 2 * z, kh, kw], 'ip2p.safetensors');
    expect((await refusal(loadWeights([pix2pix, p.motion]))).message).toMatch(/image-conditioned model.*not supported yet/);
  });

  it('a text encoder whose width is not the UNet\'s cross-attention width', async () => {
    const p = await parts();
    const cfg = inferTextConfig(shapesOf(p.text));
    const wide = await fileFrom(expectedTextShapes({ ...cfg, width: cfg.width + 8 }), 'wide_text_encoder.safetensors');
    const e = await refusal(loadWeights([p.unet, p.motion, p.vae, wide]));
    expect(e.code).toBe('shape-mismatch');
    expect(e.message).toBe(`wide_text_encoder.safetensors: the text encoder makes ${cfg.width + 8}-wide embeddings, but the UNet's cross-attention (${p.unet.name}) takes ${cfg.width}-wide ones: a text encoder for another model family?`);
  });

  it('a VAE whose latent channels are not the UNet\'s', async () => {
    const p = await parts();
    const cfg = inferVaeConfig(shapesOf(p.vae));
    const vae8 = await fileFrom(expectedVaeShapes({ ...cfg, latentChannels: 2 * cfg.latentChannels }), 'vae8.safetensors');
    const e = await refusal(loadWeights([p.unet, p.motion, vae8, p.text]));
    expect(e.message).toMatch(new RegExp(`^vae8\\.safetensors: the VAE decodes ${2 * cfg.latentChannels}-channel latents, but the UNet .* makes ${cfg.latentChannels}-channel latents`));
  });

  it('a motion module with other block widths or modules per block than the UNet', async () => {
    const p = await parts();
    const cfg = inferMotionConfig(shapesOf(p.motion));
    const wider = await fileFrom(expectedMotionShapes({ ...cfg, blockOutChannels: cfg.blockOutChannels.map((c) => 2 * c) }), 'wide_motion.safetensors');
    expect((await refusal(loadWeights([p.unet, wider]))).message).toMatch(/^wide_motion\.safetensors: motion-module widths \[.*\] do not match the UNet's block widths/);
    const more = await fileFrom(expectedMotionShapes({ ...cfg, layersPerBlock: cfg.layersPerBlock + 1 }), 'deep_motion.safetensors');
    expect((await refusal(loadWeights([p.unet, more]))).message).toMatch(new RegExp(`has ${cfg.layersPerBlock + 1} modules per down block, but the UNet .* has ${cfg.layersPerBlock} ResNets per down block`));
  });

  it('a config.json that describes other weights than the ones it comes with', async () => {
    const p = await parts();
    const w = await loadWeights([p.unet, p.motion, p.vae, p.text]);
    const owners = w.owners!;
    const unetCfg = { in_channels: w.unetConfig!.inChannels, cross_attention_dim: w.unetConfig!.crossAttentionDim, time_embedding_dim: null, block_out_channels: w.unetConfig!.blockOutChannels };
    expect(() => checkConfigsMatchWeights({ unet: unetCfg }, w, owners)).not.toThrow();
    expect(() => checkConfigsMatchWeights({ unet: { ...unetCfg, cross_attention_dim: 768 } }, w, owners)).toThrow(/the UNet's config\.json says cross_attention_dim = 768, but the weights have 32/);
    expect(() => checkConfigsMatchWeights({ unet: { ...unetCfg, time_embedding_dim: 7 } }, w, owners)).toThrow(/time_embedding_dim = 7, but the weights have \d+/);
    expect(() => checkConfigsMatchWeights({ text: { hidden_size: w.textConfig!.width + 1 } }, w, owners)).toThrow(/text encoder's config\.json says hidden_size/);
    expect(() => checkConfigsMatchWeights({ vae: { latent_channels: 16 } }, w, owners)).toThrow(/latent_channels = 16/);
    expect(() => checkConfigsMatchWeights({ motionAdapter: { block_out_channels: [1, 2] } }, w, owners)).toThrow(/block_out_channels = \[1,2\]/);
  });
});
