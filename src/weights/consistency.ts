// Do the loaded components fit each other? Each file is checked against its own config when it is mapped
// (layouts/expected.ts); this checks the widths where two components meet, all derived from the weights' shapes
// (and from the config.json files, where given), before anything is uploaded or run, naming the problem:
//   UNet conv_in ↔ conv_out        (latent channels in = out; 2·out + 1 is an inpainting UNet: not supported yet)
//   VAE latent channels ↔ UNet      (the UNet denoises what the VAE decodes)
//   text-encoder width ↔ UNet cross-attention width
//   motion-module widths / modules per block ↔ UNet block widths / ResNets per block
//   config.json ↔ weights           (a config describing other weights gives wrong head counts silently)

import { WeightFileError } from './errors';
import type { MotionConfig, TextConfig, UnetConfig, VaeConfig } from './layouts/expected';
import type { Component } from './layouts/map';

export interface ComponentConfigs {
  unetConfig?: UnetConfig;
  motionConfig?: MotionConfig;
  vaeConfig?: VaeConfig;
  textConfig?: TextConfig;
}

const list = (a: readonly number[]) => `[${a.join(',')}]`;

/** Throws a typed error naming the components (and files) whose shapes do not fit together. */
export function checkComponentsFit(c: ComponentConfigs, owner: Partial<Record<Component, string>>): void {
  const { unetConfig: u, motionConfig: m, vaeConfig: v, textConfig: t } = c;
  if (u && u.inChannels !== u.outChannels) {
    const z = u.outChannels;
    const what = u.inChannels === 2 * z + 1
      ? `an inpainting model: not supported yet (its conv_in takes ${u.inChannels} channels, the ${z} latent channels + ${z} of the masked image + 1 mask; text-to-video needs a UNet whose conv_in takes the ${z} channels its conv_out makes)`
      : u.inChannels === 2 * z
        ? `an image-conditioned model (InstructPix2Pix-style): not supported yet (its conv_in takes ${u.inChannels} = 2 × ${z} latent channels; text-to-video needs ${z})`
        : `a UNet whose conv_in takes ${u.inChannels} channels but whose conv_out makes ${z}: not supported (text-to-video denoises the same latent channels it reads)`;
    throw new WeightFileError('unsupported-model', owner.unet ?? 'UNet', `this is ${what}`);
  }
  if (u && v && v.latentChannels !== u.outChannels) {
    throw new WeightFileError('shape-mismatch', owner.vae ?? 'VAE', `the VAE decodes ${v.latentChannels}-channel latents, but the UNet (${owner.unet}) makes ${u.outChannels}-channel latents: a VAE for another model family?`);
  }
  if (u && t && u.crossAttentionDim > 0 && t.width !== u.crossAttentionDim) {
    throw new WeightFileError('shape-mismatch', owner.text ?? 'text encoder', `the text encoder makes ${t.width}-wide embeddings, but the UNet's cross-attention (${owner.unet}) takes ${u.crossAttentionDim}-wide ones: a text encoder for another model family?`);
  }
  if (u && m) {
    if (list(m.blockOutChannels) !== list(u.blockOutChannels)) {
      throw new WeightFileError('shape-mismatch', owner.motion ?? 'motion module', `motion-module widths ${list(m.blockOutChannels)} do not match the UNet's block widths ${list(u.blockOutChannels)} (${owner.unet}); a motion module for another base model?`);
    }
    if (m.layersPerBlock !== u.layersPerBlock) {
      throw new WeightFileError('shape-mismatch', owner.motion ?? 'motion module', `the motion module has ${m.layersPerBlock} modules per down block, but the UNet (${owner.unet}) has ${u.layersPerBlock} ResNets per down block (one module follows each)`);
    }
  }
}

/** diffusers / transformers config.json objects of the components (as ModelSources.configs). */
export interface ComponentConfigFiles {
  unet?: Record<string, unknown>;
  motionAdapter?: Record<string, unknown>;
  vae?: Record<string, unknown>;
  text?: Record<string, unknown>;
}

/** Throws when a config.json states a width or count that the weights it comes with do not have. */
export function checkConfigsMatchWeights(files: ComponentConfigFiles, c: ComponentConfigs, owner: Partial<Record<Component, string>>): void {
  const checks: [string, Component, Record<string, unknown> | undefined, string, unknown][] = [];
  const { unetConfig: u, motionConfig: m, vaeConfig: v, textConfig: t } = c;
  if (u) {
    checks.push(
      ['UNet', 'unet', files.unet, 'in_channels', u.inChannels], ['UNet', 'unet', files.unet, 'out_channels', u.outChannels],
      ['UNet', 'unet', files.unet, 'block_out_channels', u.blockOutChannels], ['UNet', 'unet', files.unet, 'layers_per_block', u.layersPerBlock],
      ['UNet', 'unet', files.unet, 'time_embedding_dim', u.timeEmbedDim],
    );
    if (u.crossAttentionDim > 0) checks.push(['UNet', 'unet', files.unet, 'cross_attention_dim', u.crossAttentionDim]);
  }
  if (m) {
    checks.push(['motion adapter', 'motion', files.motionAdapter, 'block_out_channels', m.blockOutChannels], ['motion adapter', 'motion', files.motionAdapter, 'motion_layers_per_block', m.layersPerBlock]);
  }
  if (v) checks.push(['VAE', 'vae', files.vae, 'latent_channels', v.latentChannels], ['VAE', 'vae', files.vae, 'block_out_channels', v.blockOutChannels]);
  if (t) {
    checks.push(
      ['text encoder', 'text', files.text, 'hidden_size', t.width], ['text encoder', 'text', files.text, 'intermediate_size', t.intermediate],
      ['text encoder', 'text', files.text, 'num_hidden_layers', t.layers], ['text encoder', 'text', files.text, 'vocab_size', t.vocabSize],
    );
  }
  for (const [what, component, cfg, key, actual] of checks) {
    const stated = cfg?.[key];
    if (stated === undefined || stated === null) continue; // not stated (or diffusers' "derive it" default)
    const same = Array.isArray(actual) ? Array.isArray(stated) && list(stated as number[]) === list(actual) : stated === actual;
    if (!same) {
      const shown = Array.isArray(stated) ? list((stated as unknown[]).slice(0, 8).map(Number)) : typeof stated === 'number' ? String(stated) : typeof stated;
      throw new WeightFileError('shape-mismatch', owner[component] ?? what, `the ${what}'s config.json says ${key} = ${shown}, but the weights have ${Array.isArray(actual) ? list(actual) : actual}: the config belongs to another model`);
    }
  }
}
