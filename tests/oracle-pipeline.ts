// The oracle's tiny pipeline sets (pipeline_tiny, freeinit_tiny, …) as tests use them: config.json, the replayed
// inputs (prompt embeddings, initial latents), the reference outputs, and the UNet + motion adapter + VAE that
// config.json `weights` names, sized from their own folders' config.json (never from a second description here).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { weightFiles } from '../src/conformance/sets/pipeline_tiny';
import { parseTensorFile, type RefTensor, toF32 } from '../src/conformance/tensor-file';
import type { Engine } from '../src/gpu/engine';
import { hyperParamsFromDiffusers, type Semantics, type UNetHyperParams } from '../src/models/config';
import { UNetMotion } from '../src/models/unet';
import { VaeDecoder, type VaeDecoderConfig } from '../src/models/vae-decoder';
import type { PipelineModels } from '../src/pipeline/generate';
import { openNodeFileSource } from '../src/platform/node-file-source';
import { loadWeights } from '../src/weights/load';
import { openSafetensors } from '../src/weights/safetensors';
import { VECTORS } from './oracle';

export interface OraclePipeline {
  dir: string;
  config: any;
  inputs: Map<string, RefTensor>;
  /** outputs.safetensors, read on first use (it is the largest file of a set). */
  outputs(): Map<string, RefTensor>;
  /** The UNet folder's config.json (unet_config, motion_adapter_config). */
  unetConfig: any;
  /** The VAE folder's vae_config. */
  vaeConfig: any;
  hyper: UNetHyperParams;
  vae: VaeDecoderConfig;
  /** latents_init's shape (b, C, F, h, w). */
  latentShape: number[];
  /** The replayed prompt embeddings as the pipeline takes them ([1, tokens, dim] each). */
  embeddings(opts?: { negative?: boolean }): { positive: Float32Array; negative?: Float32Array; tokens: number; dim: number };
  initialNoise(): Float32Array;
  /** Loads the models of config.json `weights` on `e`, through src/weights. */
  loadModels(e: Engine, opts?: { semantics?: Semantics }): Promise<PipelineModels & { release(): void }>;
}

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

export function oraclePipeline(set: string): OraclePipeline {
  const dir = path.join(VECTORS, set, 'vA');
  const config = readJson(path.join(dir, 'config.json'));
  const inputs = parseTensorFile(readFileSync(path.join(dir, 'inputs.safetensors')), 'inputs');
  const files = weightFiles(config, dir);
  const unetConfig = readJson(path.join(path.dirname(path.resolve(dir, files.unet.primary)), 'config.json'));
  const vaeConfig = readJson(path.join(path.dirname(path.resolve(dir, files.vae.primary)), 'config.json')).vae_config;
  const hyper = hyperParamsFromDiffusers(unetConfig.unet_config, unetConfig.motion_adapter_config);
  const vae: VaeDecoderConfig = { groups: vaeConfig.norm_num_groups, scalingFactor: vaeConfig.scaling_factor };
  const input = (k: string) => inputs.get(k) ?? (() => { throw new Error(`${dir}: inputs.safetensors has no ${k}`); })();
  let outputs: Map<string, RefTensor> | null = null;
  return {
    dir, config, inputs, unetConfig, vaeConfig, hyper, vae,
    latentShape: input('latents_init').shape,
    outputs: () => (outputs ??= parseTensorFile(readFileSync(path.join(dir, 'outputs.safetensors')), 'outputs')),
    embeddings({ negative = true } = {}) {
      const [, tokens, dim] = input('prompt_embeds').shape;
      return { positive: toF32(input('prompt_embeds')), ...(negative ? { negative: toF32(input('negative_prompt_embeds')) } : {}), tokens, dim };
    },
    initialNoise: () => toF32(input('latents_init')),
    async loadModels(e, opts = {}) {
      const open = async (rel: string) => openSafetensors(await openNodeFileSource(path.resolve(dir, rel)));
      const w = await loadWeights([await open(files.unet.primary), await open(files.motion_adapter.primary), await open(files.vae.primary)]);
      const unet = await UNetMotion.load(e, w.unet!, hyper, opts.semantics ? { semantics: opts.semantics } : {});
      const decoder = await VaeDecoder.load(e, w.vae!, vae);
      return { engine: e, unet, vae: decoder, release: () => { decoder.release(); unet.release(); } };
    },
  };
}
