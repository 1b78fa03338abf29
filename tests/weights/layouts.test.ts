// Layout mapping against the oracle: the same tiny models stored in LDM / original AnimateDiff / transformers and
// diffusers layouts must map to exactly the diffusers keys, shapes and bit-identical values.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectLayout, loadWeights, type LoadedWeights } from '../../src/weights/load';
import { ldmLayersPerBlock, ldmUnetKeyToDiffusers } from '../../src/weights/layouts/ldm-unet';
import { diffusersUnetKeyToLdm } from '../../src/weights/layouts/unet';
import { type SafetensorsFile } from '../../src/weights/safetensors';
import type { WeightMap } from '../../src/weights/weight-map';
import { oracleFiles, VECTORS } from '../oracle';

const V = VECTORS;
const open = oracleFiles();

function bits(a: Float32Array): Uint32Array { return new Uint32Array(a.buffer, a.byteOffset, a.length); }

/** Every canonical key of `map` equals a key of the diffusers reference file, same shape and identical bits. */
async function expectSameAsReference(map: WeightMap, ref: SafetensorsFile, skip: (k: string) => boolean = () => false) {
  const refKeys = [...ref.tensors.keys()].filter((k) => !skip(k)).sort();
  expect(map.names().sort()).toEqual(refKeys);
  for (const k of refKeys) {
    expect(map.shape(k), k).toEqual(ref.tensors.get(k)!.shape);
    const [a, b] = await Promise.all([map.read(k), ref.read(k)]);
    const x = bits(a), y = bits(b);
    expect(x.length, k).toBe(y.length);
    let firstDiff = -1;
    for (let i = 0; i < x.length && firstDiff < 0; i++) if (x[i] !== y[i]) firstDiff = i;
    expect(firstDiff, `${k}: first differing element`).toBe(-1);
  }
}

describe('layouts (oracle tiny models)', () => {
  it('LDM UNet → diffusers UNet2DConditionModel keys, bit-identical', async () => {
    const ldm = await open('unet_motion_tiny/vA/unet_ldm.safetensors');
    const diff = await open('unet_motion_tiny/vA/unet_diffusers.safetensors');
    expect(await detectLayout(ldm)).toMatchObject({ kind: 'sd15-single', layout: 'ldm', components: ['unet'] });
    expect(await detectLayout(diff)).toMatchObject({ kind: 'unet', layout: 'diffusers', components: ['unet'] });
    const a = await loadWeights([ldm]), b = await loadWeights([diff]);
    await expectSameAsReference(a.unet!, diff);
    await expectSameAsReference(b.unet!, diff);
    const cfg = JSON.parse(readFileSync(`${V}/unet_motion_tiny/vA/config.json`, 'utf8')).unet_config;
    expect(a.unetConfig).toMatchObject({
      blockOutChannels: cfg.block_out_channels, layersPerBlock: cfg.layers_per_block, crossAttentionDim: cfg.cross_attention_dim,
      inChannels: cfg.in_channels, outChannels: cfg.out_channels,
      downHasAttention: cfg.down_block_types.map((t: string) => t.startsWith('CrossAttn')),
      upHasAttention: cfg.up_block_types.map((t: string) => t.startsWith('CrossAttn')),
    });
    expect(a.unetConfig).toEqual(b.unetConfig);
  });

  it('diffusers → LDM UNet naming inverts the LDM → diffusers conversion', async () => {
    const ldm = await open('unet_motion_tiny/vA/unet_ldm.safetensors');
    const rel = [...ldm.tensors.keys()].map((k) => k.slice('model.diffusion_model.'.length));
    const L = ldmLayersPerBlock(rel);
    expect(L).toBe(2);
    const up = [false, true, true, true];
    for (const k of rel) expect(diffusersUnetKeyToLdm(ldmUnetKeyToDiffusers(k, L)!, L, up)).toBe(k);
  });

  it('LDM VAE → diffusers AutoencoderKL (mid attention 1×1 convs squeezed to linear), bit-identical', async () => {
    const ldm = await open('vae_decoder_tiny/vA/vae_ldm.safetensors');
    const diff = await open('vae_decoder_tiny/vA/vae_diffusers.safetensors');
    const a = await loadWeights([ldm]);
    await expectSameAsReference(a.vae!, diff);
    expect(a.vae!.shape('decoder.mid_block.attentions.0.to_q.weight')).toEqual([32, 32]);
    const cfg = JSON.parse(readFileSync(`${V}/vae_decoder_tiny/vA/config.json`, 'utf8')).vae_config;
    expect(a.vaeConfig).toMatchObject({ blockOutChannels: cfg.block_out_channels, latentChannels: cfg.latent_channels, layersPerBlock: cfg.layers_per_block, hasEncoder: true });
  });

  it('LDM CLIP → transformers text_model.*, bit-identical', async () => {
    const ldm = await open('clip_text_tiny/vA/text_encoder_ldm.safetensors');
    const hub = await open('clip_text_tiny/vA/text_encoder_transformers.safetensors');
    expect(await detectLayout(hub)).toMatchObject({ kind: 'text-encoder', layout: 'transformers' });
    const a = await loadWeights([ldm]);
    await expectSameAsReference(a.textEncoder!, hub);
    const tc = JSON.parse(readFileSync(`${V}/clip_text_tiny/vA/config.json`, 'utf8')).text_config;
    expect(a.textConfig).toMatchObject({ width: tc.hidden_size, layers: tc.num_hidden_layers, intermediate: tc.intermediate_size, vocabSize: tc.vocab_size });
  });

  it('original AnimateDiff motion modules → diffusers MotionAdapter, bit-identical (one PE table per block)', async () => {
    const orig = await open('unet_motion_tiny/vA/motion_module_original.safetensors');
    const diff = await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors');
    const d = await detectLayout(orig);
    expect(d).toMatchObject({ kind: 'motion-module', layout: 'original' });
    expect(d.motion).toMatchObject({ hasMidBlock: true, peLength: 32, version: 'v2', groupNormSemantics: { resnetPooledOverFrames: false } });
    const a = await loadWeights([orig]);
    await expectSameAsReference(a.unet!, diff);
    const mc = JSON.parse(readFileSync(`${V}/unet_motion_tiny/vA/config.json`, 'utf8')).motion_adapter_config;
    expect(a.motionConfig).toMatchObject({ blockOutChannels: mc.block_out_channels, layersPerBlock: mc.motion_layers_per_block, hasMidBlock: mc.use_motion_mid_block, peLength: mc.motion_max_seq_length });
  });

  it('a standalone motion module (original → diffusers), bit-identical', async () => {
    const orig = await open('motion_module/vA/weights_original.safetensors');
    const diff = await open('motion_module/vA/weights_diffusers.safetensors');
    const a = await loadWeights([orig]);
    await expectSameAsReference(a.unet!, diff);
    expect((await loadWeights([diff])).unet!.names().length).toBe(diff.tensors.size);
  });

  it('LDM UNet + original motion module = UNetMotionModel names (diffusers UNet + MotionAdapter)', async () => {
    const both: LoadedWeights = await loadWeights([
      await open('unet_motion_tiny/vA/unet_ldm.safetensors'), await open('unet_motion_tiny/vA/motion_module_original.safetensors'),
    ]);
    const u = await open('unet_motion_tiny/vA/unet_diffusers.safetensors'), m = await open('unet_motion_tiny/vA/motion_adapter_diffusers.safetensors');
    expect(both.unet!.names().sort()).toEqual([...u.tensors.keys(), ...m.tensors.keys()].sort());
    expect(both.motion).toMatchObject({ version: 'v2', hasMidBlock: true });
    expect(both.warnings).toEqual([]);
  });

  it('refuses two files providing the same component', async () => {
    await expect(loadWeights([
      await open('unet_motion_tiny/vA/unet_ldm.safetensors'), await open('unet_motion_tiny/vA/unet_diffusers.safetensors'),
    ])).rejects.toMatchObject({ code: 'duplicate' });
  });
});
