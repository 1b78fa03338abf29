// The real full-size checkpoints' key/shape manifests (oracle/manifests): every key maps, nothing is missing,
// shapes match what the canonical models expect; foreign architectures are refused with a clear message.
// Files are synthesised as header-only safetensors over a fake source that serves zeros for the data section
// without allocating it (a 3.4 GB UNet costs a few hundred KB of header).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DTYPE_SIZES, type Dtype } from '../../src/weights/dtype';
import { detectLayout, loadWeights } from '../../src/weights/load';
import { parseLora } from '../../src/weights/lora';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors';
import type { ByteSource } from '../../src/weights/source';
import { MANIFESTS } from '../oracle';

const M = MANIFESTS;
type Manifest = { tensors: Record<string, { shape: (number | string)[]; dtype: string }> };
function manifest(name: string): Manifest { return JSON.parse(readFileSync(`${M}/${name}.json`, 'utf8')); }

type Entry = { dtype: Dtype; shape: number[] };
function entries(m: Manifest, rank = 4): Map<string, Entry> {
  return new Map(Object.entries(m.tensors).map(([k, v]) => [k, {
    dtype: v.dtype.split('|')[0] as Dtype,
    shape: v.shape.map((d) => (d === 'R' ? rank : Number(d))),
  }]));
}

/** Header-only safetensors file: the data section reads as zeros and is never allocated whole. */
function headerOnlyFile(tensors: Map<string, Entry>, name: string): Promise<SafetensorsFile> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const [k, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[t.dtype];
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(json, 8);
  const size = head.length + off;
  const src: ByteSource = {
    name, size,
    async read(offset, length) {
      if (offset < 0 || offset + length > size || length > 64 * 1024 * 1024) throw new Error(`unexpected read ${offset}+${length}`);
      const out = new Uint8Array(length);
      if (offset < head.length) out.set(head.subarray(offset, Math.min(head.length, offset + length)));
      return out;
    },
  };
  return openSafetensors(src);
}
const fromManifest = (m: string, extra: [string, Entry][] = [], fileName = `${m}.safetensors`) =>
  headerOnlyFile(new Map([...entries(manifest(m)), ...extra]), fileName);

function shapesOfManifest(m: string): Map<string, number[]> {
  return new Map([...entries(manifest(m))].map(([k, e]) => [k, e.shape]));
}

describe('real checkpoint manifests', () => {
  it('SD1.5 UNet: LDM and diffusers files map to the same 686 canonical tensors with the expected shapes', async () => {
    const diffShapes = shapesOfManifest('sd15_unet_diffusers');
    for (const m of ['sd15_unet_diffusers', 'sd15_unet_ldm']) {
      const w = await loadWeights([await fromManifest(m)]);
      expect(w.warnings).toEqual([]);
      expect(w.unet!.names().sort()).toEqual([...diffShapes.keys()].sort());
      for (const [k, s] of diffShapes) expect(w.unet!.shape(k), k).toEqual(s);
      expect(w.unetConfig).toMatchObject({ blockOutChannels: [320, 640, 1280, 1280], layersPerBlock: 2, crossAttentionDim: 768, timeEmbedDim: 1280 });
    }
  });

  it('SD1.5 VAE and CLIP ViT-L/14 text: LDM and diffusers/transformers agree', async () => {
    for (const [a, b, comp, n] of [['sd15_vae_ldm', 'sd15_vae_diffusers', 'vae', 248], ['clip_vit_l14_text_ldm', 'clip_vit_l14_text_transformers', 'textEncoder', 196]] as const) {
      const ref = shapesOfManifest(b);
      for (const m of [a, b]) {
        const w = await loadWeights([await fromManifest(m)]);
        const map = w[comp]!;
        expect(map.names().length).toBe(n);
        for (const [k, s] of ref) expect(map.shape(k), `${m} ${k}`).toEqual(s);
      }
    }
  });

  it('standalone LDM VAE files (vae-ft-mse-840000 style) and prefix-less CLIP / LDM UNet files map too', async () => {
    const strip = (m: string, prefix: string) => new Map([...entries(manifest(m))].map(([k, e]) => [k.replace(prefix, ''), e]));
    const vae = await loadWeights([await headerOnlyFile(strip('sd15_vae_ldm', 'first_stage_model.'), 'vae-ft-mse-840000-ema-pruned.safetensors')]);
    const ref = shapesOfManifest('sd15_vae_diffusers');
    expect(vae.vae!.names().sort()).toEqual([...ref.keys()].sort());
    for (const [k, sh] of ref) expect(vae.vae!.shape(k), k).toEqual(sh);
    const text = await loadWeights([await headerOnlyFile(strip('clip_vit_l14_text_transformers', 'text_model.'), 'model.safetensors')]);
    expect(text.textEncoder!.names().length).toBe(196);
    const unet = await loadWeights([await headerOnlyFile(strip('sd15_unet_ldm', 'model.diffusion_model.'), 'unet.safetensors')]);
    expect(unet.unet!.names().sort()).toEqual([...shapesOfManifest('sd15_unet_diffusers').keys()].sort());
  });

  it('the SD1.5 single file maps all three models; EMA copies, scheduler buffers and position_ids are ignored', async () => {
    const f = await fromManifest('sd15_single_file_ldm', [
      ['model_ema.decay', { dtype: 'F32', shape: [] }],
      ['model_ema.diffusion_modelinput_blocks00weight', { dtype: 'F16', shape: [320, 4, 3, 3] }],
      ['alphas_cumprod', { dtype: 'F32', shape: [1000] }],
      ['cond_stage_model.transformer.text_model.embeddings.position_ids', { dtype: 'I64', shape: [1, 77] }],
    ], 'v1-5-pruned-emaonly.safetensors');
    expect(await detectLayout(f)).toMatchObject({ kind: 'sd15-single', layout: 'ldm', components: ['unet', 'vae', 'text'] });
    const w = await loadWeights([f]);
    expect(w.warnings).toEqual([]);
    expect([w.unet!.names().length, w.vae!.names().length, w.textEncoder!.names().length]).toEqual([686, 248, 196]);
  });

  const motionCases: [string, string, object][] = [
    ['motion_module_v1-5_original', 'mm_sd_v15.safetensors', { version: 'v1', basis: 'keys', hasMidBlock: false, peLength: 24, groupNormSemantics: { resnetPooledOverFrames: true } }],
    ['motion_adapter_v1-5_diffusers', 'diffusion_pytorch_model.safetensors', { version: 'v1', basis: 'keys', hasMidBlock: false, peLength: 24 }],
    ['motion_module_v1-5-2_original', 'mm_sd_v15_v2.safetensors', { version: 'v2', hasMidBlock: true, peLength: 32, groupNormSemantics: { resnetPooledOverFrames: false } }],
    ['motion_adapter_v1-5-2_diffusers', 'diffusion_pytorch_model.safetensors', { version: 'v2', basis: 'default', alternatives: ['v2', 'lightning', 'lcm'] }],
    ['motion_module_v1-5-3_original', 'v3_sd15_mm.safetensors', { version: 'v3', basis: 'keys', hasMidBlock: false, peLength: 32 }],
    ['motion_adapter_v1-5-3_diffusers', 'diffusion_pytorch_model.safetensors', { version: 'v3', hasMidBlock: false }],
    ['animatediff_lightning_comfyui', 'animatediff_lightning_4step_comfyui.safetensors', { version: 'lightning', basis: 'file-name', hasMidBlock: true }],
    ['animatediff_lightning_diffusers', 'animatediff_lightning_4step_diffusers.safetensors', { version: 'lightning', basis: 'file-name', hasMidBlock: true }],
  ];
  it.each(motionCases)('%s: every key maps, version detected', async (m, fileName, info) => {
    const w = await loadWeights([await fromManifest(m, [], fileName)]);
    expect(w.motion).toMatchObject(info);
    expect(w.warnings).toEqual([]);
    // Canonical = the diffusers MotionAdapter key set of the same version (one PE table per transformer block).
    const ref = m.includes('v1-5_') ? 'motion_adapter_v1-5_diffusers' : m.includes('v1-5-3') ? 'motion_adapter_v1-5-3_diffusers' : 'motion_adapter_v1-5-2_diffusers';
    const refShapes = shapesOfManifest(ref);
    expect(w.unet!.names().sort()).toEqual([...refShapes.keys()].sort());
    for (const [k, s] of refShapes) expect(w.unet!.shape(k), k).toEqual(s);
  });

  it('original files without pos_encoder tables: v1/v3 and v2/Lightning/LCM are told apart by name or the user', async () => {
    const noPe = (m: string) => [...entries(manifest(m))].filter(([k]) => !k.endsWith('pos_encoder.pe'));
    const v3 = await loadWeights([await headerOnlyFile(new Map(noPe('motion_module_v1-5-3_original')), 'motion.safetensors')]);
    expect(v3.motion).toMatchObject({ version: 'v3', basis: 'default', alternatives: ['v1', 'v3'], peLength: null });
    const v1 = await loadWeights([await headerOnlyFile(new Map(noPe('motion_module_v1-5-3_original')), 'motion.safetensors')], { motionVersion: 'v1' });
    expect(v1.motion).toMatchObject({ version: 'v1', basis: 'user', groupNormSemantics: { resnetPooledOverFrames: true } });
    const lcm = await loadWeights([await headerOnlyFile(new Map(noPe('motion_module_v1-5-2_original')), 'AnimateLCM_sd15_t2v.safetensors')]);
    expect(lcm.motion).toMatchObject({ version: 'lcm', basis: 'file-name', hasMidBlock: true });
  });

  it('SD1.5 single file + v2 motion module + MotionLoRA load together; LoRA targets resolve in both layouts', async () => {
    const base = [await fromManifest('sd15_single_file_ldm'), await fromManifest('motion_module_v1-5-2_original')];
    for (const m of ['motion_lora_original', 'motion_lora_diffusers']) {
      const lora = await fromManifest(m, [], 'v2_lora_ZoomIn.safetensors');
      expect(await detectLayout(lora)).toMatchObject({ kind: 'motion-lora' });
      const parsed = await parseLora(lora);
      expect(parsed.pairs.length).toBe(168);
      const w = await loadWeights(base, { loras: [{ file: lora, strength: 0.8 }] });
      expect(w.warnings).toEqual([]);
      for (const p of parsed.pairs) expect(w.unet!.has(p.target), p.target).toBe(true);
    }
    // On a v3 module (no mid block) the mid-block targets are skipped with a warning.
    const v3 = await loadWeights([await fromManifest('motion_module_v1-5-3_original')], { loras: [{ file: await fromManifest('motion_lora_original'), strength: 1 }] });
    expect(v3.warnings.join('\n')).toMatch(/8 LoRA targets not in the model, skipped: mid_block\.motion_modules\.0\./);
  });

  it('rejects missing keys and wrong shapes naming the tensor, the expectation and the finding', async () => {
    const all = entries(manifest('sd15_unet_ldm'));
    const dropped = new Map(all); dropped.delete('model.diffusion_model.output_blocks.5.1.proj_out.weight');
    await expect(loadWeights([await headerOnlyFile(dropped, 'unet.safetensors')])).rejects.toMatchObject({
      code: 'missing-keys', message: expect.stringMatching(/^unet\.safetensors: the UNet is incomplete: 1 expected tensors are missing: up_blocks\.1\.attentions\.2\.proj_out\.weight$/),
    });
    const bent = new Map(all); bent.set('model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.2.weight', { dtype: 'F16', shape: [1280, 4096] });
    await expect(loadWeights([await headerOnlyFile(bent, 'unet.safetensors')])).rejects.toMatchObject({
      code: 'shape-mismatch', message: expect.stringMatching(/"mid_block\.attentions\.0\.transformer_blocks\.0\.ff\.net\.2\.weight" \(stored as "model\.diffusion_model\.middle_block\.1\.transformer_blocks\.0\.ff\.net\.2\.weight"\): expected shape \[1280,5120\], found \[1280,4096\]/),
    });
    // A tiny motion module with the full-size UNet: widths disagree.
    const tinyMotion = new Map([...entries(manifest('motion_adapter_v1-5-3_diffusers'))].map(([k, e]) => [k, { ...e, shape: e.shape.map((d) => (d >= 320 ? d / 10 : d)) }]));
    await expect(loadWeights([await fromManifest('sd15_unet_diffusers'), await headerOnlyFile(tinyMotion, 'tiny_mm.safetensors')])).rejects.toMatchObject({
      code: 'shape-mismatch', message: expect.stringMatching(/^tiny_mm\.safetensors: motion-module widths \[32,64,128,128\] do not match the UNet's block widths \[320,640,1280,1280\]/),
    });
  });

  it('refuses SDXL- and SD2-like checkpoints and an SDXL motion module with a clear message', async () => {
    const sdxl = new Map<string, Entry>([
      ['conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight', { dtype: 'F16', shape: [3840, 1280] }],
      ['model.diffusion_model.label_emb.0.0.weight', { dtype: 'F16', shape: [1280, 2816] }],
      ['model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight', { dtype: 'F16', shape: [640, 2048] }],
    ]);
    for (const [k] of [...sdxl]) {
      const one = new Map([[k, sdxl.get(k)!], ...entries(manifest('sd15_vae_ldm'))]);
      await expect(loadWeights([await headerOnlyFile(one, 'sd_xl_base_1.0.safetensors')])).rejects.toMatchObject({
        code: 'wrong-architecture', message: expect.stringMatching(/^sd_xl_base_1\.0\.safetensors: this looks like an SDXL checkpoint .*; AnimateDiff Web needs a Stable Diffusion 1\.5 model/),
      });
    }
    const diffusersXl = new Map<string, Entry>([['down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight', { dtype: 'F16', shape: [640, 2048] }]]);
    await expect(detectLayout(await headerOnlyFile(diffusersXl, 'unet.safetensors'))).rejects.toMatchObject({ code: 'wrong-architecture', message: expect.stringMatching(/SDXL.*2048/) });
    const sd2 = new Map<string, Entry>([
      ['cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight', { dtype: 'F16', shape: [3072, 1024] }],
      ['model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight', { dtype: 'F16', shape: [320, 1024] }],
    ]);
    for (const [k, e] of sd2) {
      await expect(loadWeights([await headerOnlyFile(new Map([[k, e]]), 'v2-1_768-ema-pruned.safetensors')])).rejects.toMatchObject({
        code: 'wrong-architecture', message: expect.stringMatching(/this looks like a Stable Diffusion 2\.x checkpoint .*needs a Stable Diffusion 1\.5 model/),
      });
    }
    const xlMotion = new Map([...entries(manifest('motion_module_v1-5-3_original'))].filter(([k]) => !/^(down|up)_blocks\.3\./.test(k)));
    await expect(loadWeights([await headerOnlyFile(xlMotion, 'mm_sdxl_v10_beta.safetensors')])).rejects.toMatchObject({
      code: 'wrong-architecture', message: expect.stringMatching(/SDXL motion module/),
    });
  });

  it('refuses files it cannot recognise', async () => {
    const f = await headerOnlyFile(new Map([['backbone.layer1.weight', { dtype: 'F32', shape: [3, 3] }]]), 'resnet50.safetensors');
    await expect(detectLayout(f)).rejects.toMatchObject({ code: 'unknown-layout', message: expect.stringMatching(/^resnet50\.safetensors: expected a Stable Diffusion 1\.5 .*found 1 tensors with unrecognised names: backbone\.layer1\.weight/) });
  });
});
