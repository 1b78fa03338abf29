// Model presets: real Hugging Face files (fetched with HTTP Range straight from the Hub, CORS-enabled) and the
// tiny random-weight test model served by this app at /tiny-model/ (for tests and demos).

import type { FileSource, SchedulerName } from '../../src/worker/protocol';
import { type ModelFootprint, SD15_FOOTPRINT } from '../../src/worker/capability';

const hf = (repo: string, path: string, name?: string): FileSource => ({
  kind: 'url',
  url: `https://huggingface.co/${repo}/resolve/main/${path}`,
  name: name ?? `${repo}/${path}`,
});
const tiny = (file: string): FileSource => ({ kind: 'url', url: `/tiny-model/${file}`, name: `tiny-model/${file}` });

export interface BasePreset {
  id: string;
  label: string;
  note: string;
  /** Weight files (single-file checkpoint, or the diffusers unet + vae + text encoder). */
  files: FileSource[];
  /** config.json files of the components (identified by their content), where the layout needs them. */
  configs: FileSource[];
  tokenizer: FileSource;
  footprint: ModelFootprint;
  /** 'tiny' presets only pair with tiny motion modules. */
  family: 'sd15' | 'tiny';
  /** Sizes the UI offers by default. */
  defaultSize: number;
}

export interface Recommended {
  scheduler: SchedulerName;
  steps: number;
  guidance: number;
}

export interface MotionPreset {
  id: string;
  label: string;
  note: string;
  files: FileSource[];
  configs: FileSource[];
  family: 'sd15' | 'tiny';
  recommended: Recommended;
  /** A LoRA the motion module is meant to be used with (AnimateLCM's t2v LoRA), applied to the base model. */
  companionLora?: { source: FileSource; strength: number };
  /** MotionLoRAs were trained on the v2 module; other versions ignore or distort them. */
  motionLoraCompatible: boolean;
}

export interface LoraPreset {
  id: string;
  label: string;
  source: FileSource;
}

const CLIP_TOKENIZER = hf('openai/clip-vit-large-patch14', 'tokenizer.json');
const SD15 = 'stable-diffusion-v1-5/stable-diffusion-v1-5';

export const BASE_PRESETS: BasePreset[] = [
  {
    id: 'sd15',
    label: 'Stable Diffusion 1.5 (fp16, 2 GB)',
    note: `${SD15}: diffusers fp16 UNet, VAE and CLIP text encoder.`,
    files: [
      hf(SD15, 'unet/diffusion_pytorch_model.fp16.safetensors'),
      hf(SD15, 'vae/diffusion_pytorch_model.fp16.safetensors'),
      hf(SD15, 'text_encoder/model.fp16.safetensors'),
    ],
    configs: [hf(SD15, 'unet/config.json'), hf(SD15, 'vae/config.json'), hf(SD15, 'text_encoder/config.json')],
    tokenizer: CLIP_TOKENIZER,
    footprint: SD15_FOOTPRINT,
    family: 'sd15',
    defaultSize: 512,
  },
  {
    id: 'tiny',
    label: 'Tiny test model (random weights)',
    note: 'A 6 MB model with random weights from this app itself: it makes colourful noise, fast. For tests and demos.',
    files: [tiny('unet_diffusers.safetensors'), tiny('vae_diffusers.safetensors'), tiny('text_encoder_transformers.safetensors')],
    configs: [tiny('unet_config.json'), tiny('vae_config.json'), tiny('text_encoder_config.json')],
    tokenizer: tiny('tokenizer.json'),
    footprint: { params: 2.3e6, baseChannels: 16 },
    family: 'tiny',
    defaultSize: 64,
  },
];

const DDIM: Recommended = { scheduler: 'ddim', steps: 25, guidance: 7.5 };

export const MOTION_PRESETS: MotionPreset[] = [
  {
    id: 'v2',
    label: 'AnimateDiff v2 (mm_sd_v15_v2)',
    note: 'guoyww/animatediff-motion-adapter-v1-5-2 — the most used motion module; works with MotionLoRAs.',
    files: [hf('guoyww/animatediff-motion-adapter-v1-5-2', 'diffusion_pytorch_model.safetensors')],
    configs: [hf('guoyww/animatediff-motion-adapter-v1-5-2', 'config.json')],
    family: 'sd15',
    recommended: DDIM,
    motionLoraCompatible: true,
  },
  {
    id: 'v3',
    label: 'AnimateDiff v3 (v3_sd15_mm)',
    note: 'guoyww/animatediff-motion-adapter-v1-5-3.',
    files: [hf('guoyww/animatediff-motion-adapter-v1-5-3', 'diffusion_pytorch_model.safetensors')],
    configs: [hf('guoyww/animatediff-motion-adapter-v1-5-3', 'config.json')],
    family: 'sd15',
    recommended: DDIM,
    motionLoraCompatible: false,
  },
  {
    id: 'v1',
    label: 'AnimateDiff v1 (mm_sd_v15)',
    note: 'guoyww/animatediff-motion-adapter-v1-5.',
    files: [hf('guoyww/animatediff-motion-adapter-v1-5', 'diffusion_pytorch_model.safetensors')],
    configs: [hf('guoyww/animatediff-motion-adapter-v1-5', 'config.json')],
    family: 'sd15',
    recommended: DDIM,
    motionLoraCompatible: false,
  },
  {
    id: 'lightning-4',
    label: 'AnimateDiff-Lightning, 4 steps',
    note: 'ByteDance/AnimateDiff-Lightning: distilled v2; Euler (trailing), guidance 1, 4 steps.',
    files: [hf('ByteDance/AnimateDiff-Lightning', 'animatediff_lightning_4step_diffusers.safetensors')],
    configs: [],
    family: 'sd15',
    recommended: { scheduler: 'euler-trailing', steps: 4, guidance: 1 },
    motionLoraCompatible: true,
  },
  {
    id: 'lightning-8',
    label: 'AnimateDiff-Lightning, 8 steps',
    note: 'ByteDance/AnimateDiff-Lightning: distilled v2; Euler (trailing), guidance 1, 8 steps.',
    files: [hf('ByteDance/AnimateDiff-Lightning', 'animatediff_lightning_8step_diffusers.safetensors')],
    configs: [],
    family: 'sd15',
    recommended: { scheduler: 'euler-trailing', steps: 8, guidance: 1 },
    motionLoraCompatible: true,
  },
  {
    id: 'animatelcm',
    label: 'AnimateLCM',
    note: 'wangfuyun/AnimateLCM: LCM scheduler, 4–8 steps, guidance 1–2; applies its t2v LoRA to the base model.',
    files: [hf('wangfuyun/AnimateLCM', 'diffusion_pytorch_model.safetensors')],
    configs: [hf('wangfuyun/AnimateLCM', 'config.json')],
    family: 'sd15',
    recommended: { scheduler: 'lcm', steps: 6, guidance: 1.5 },
    companionLora: { source: hf('wangfuyun/AnimateLCM', 'AnimateLCM_sd15_t2v_lora.safetensors'), strength: 0.8 },
    motionLoraCompatible: false,
  },
  {
    id: 'tiny',
    label: 'Tiny test motion module (random weights)',
    note: 'Pairs with the tiny test model.',
    files: [tiny('motion_adapter_diffusers.safetensors')],
    configs: [tiny('motion_adapter_config.json')],
    family: 'tiny',
    recommended: { scheduler: 'ddim', steps: 3, guidance: 7.5 },
    motionLoraCompatible: false,
  },
];

const motionLora = (id: string, label: string): LoraPreset => ({
  id,
  label,
  source: hf(`guoyww/animatediff-motion-lora-${id}`, 'diffusion_pytorch_model.safetensors'),
});

/** guoyww's camera-motion LoRAs (diffusers conversions), trained on the v2 module. */
export const MOTION_LORA_PRESETS: LoraPreset[] = [
  motionLora('zoom-in', 'Zoom in'),
  motionLora('zoom-out', 'Zoom out'),
  motionLora('pan-left', 'Pan left'),
  motionLora('pan-right', 'Pan right'),
  motionLora('tilt-up', 'Tilt up'),
  motionLora('tilt-down', 'Tilt down'),
  motionLora('rolling-clockwise', 'Roll clockwise'),
  motionLora('rolling-anticlockwise', 'Roll anticlockwise'),
];

export const SCHEDULERS: { id: SchedulerName; label: string }[] = [
  { id: 'ddim', label: 'DDIM' },
  { id: 'euler-trailing', label: 'Euler (trailing)' },
  { id: 'lcm', label: 'LCM' },
];

export const SIZE_PRESETS = [256, 384, 512] as const;
