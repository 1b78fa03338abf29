// The model catalogue as data. Sources for every entry: docs/catalogue.md. Never a .ckpt/.bin/.pt pickle.
// Sizes, hashes and revisions appear only where a published source states them; the rest is pinned from the
// Hub's own headers on the first download (src/delivery).

import type { BaseEntry, CatalogueEntry, CatalogueFile, LoraEntry, MotionEntry, TokenizerEntry } from './types';

const f = (path: string, extra: Omit<CatalogueFile, 'path'> = {}): CatalogueFile => ({ path, ...extra });

/** The diffusers component files of an SD1.5 repo; `variant` 'fp16' picks the half-precision files. */
function diffusersSd15(variant: 'fp16' | null): { files: CatalogueFile[]; configs: CatalogueFile[] } {
  const v = variant ? `.${variant}` : '';
  return {
    files: [f(`unet/diffusion_pytorch_model${v}.safetensors`), f(`vae/diffusion_pytorch_model${v}.safetensors`), f(`text_encoder/model${v}.safetensors`)],
    configs: [f('unet/config.json'), f('vae/config.json'), f('text_encoder/config.json')],
  };
}

const OPENRAIL = 'creativeml-openrail-m';
const HF_TREE = (repo: string, rev = 'main') => `https://huggingface.co/${repo}/tree/${rev}`;

// ------------------------------------------------------------------ tokenizers

const tokenizers: TokenizerEntry[] = [
  {
    id: 'clip-vit-l-14', kind: 'tokenizer', label: 'CLIP ViT-L/14 tokenizer', note: 'The tokenizer of SD1.5\'s text encoder.',
    origin: { kind: 'hub', repo: 'openai/clip-vit-large-patch14' },
    files: [f('tokenizer.json')], configs: [], licence: 'mit', family: 'sd15',
    confirmedBy: HF_TREE('openai/clip-vit-large-patch14'),
  },
  {
    id: 'tiny-tokenizer', kind: 'tokenizer', label: 'CLIP tokenizer (served by this app)', note: 'The CLIP tokenizer, for the tiny test model.',
    origin: { kind: 'local', base: '/tiny-model/' },
    files: [f('tokenizer.json')], configs: [], licence: 'mit', family: 'tiny', confirmedBy: 'e2e/tiny-model.ts',
  },
];

// ------------------------------------------------------------------ base models

const sd15Base = (e: Omit<BaseEntry, 'kind' | 'tokenizer' | 'family' | 'defaultSize' | 'needsShaderF16'>): BaseEntry => ({
  kind: 'base', tokenizer: 'clip-vit-l-14', family: 'sd15', defaultSize: 512, needsShaderF16: false, ...e,
});

const bases: BaseEntry[] = [
  sd15Base({
    id: 'sd15', label: 'Stable Diffusion 1.5 (fp16, 2 GB)',
    note: 'stable-diffusion-v1-5/stable-diffusion-v1-5: diffusers fp16 UNet, VAE and CLIP text encoder.',
    origin: { kind: 'hub', repo: 'stable-diffusion-v1-5/stable-diffusion-v1-5' },
    ...diffusersSd15('fp16'), licence: OPENRAIL,
    confirmedBy: HF_TREE('stable-diffusion-v1-5/stable-diffusion-v1-5', 'main/unet'),
  }),
  sd15Base({
    id: 'epicrealism', label: 'epiCRealism (photoreal)',
    note: 'emilianJR/epiCRealism: the base model of the AnimateDiff-Lightning and AnimateLCM examples.',
    origin: { kind: 'hub', repo: 'emilianJR/epiCRealism' },
    ...diffusersSd15(null), licence: OPENRAIL,
    confirmedBy: 'https://huggingface.co/emilianJR/epiCRealism/tree/main (safetensors added in PR #3); diffusers AnimateLCM docs',
  }),
  sd15Base({
    id: 'realistic-vision-5.1', label: 'Realistic Vision 5.1 (photoreal, 4.3 GB)',
    note: 'SG161222/Realistic_Vision_V5.1_noVAE: used in the diffusers AnimateDiff examples.',
    origin: { kind: 'hub', repo: 'SG161222/Realistic_Vision_V5.1_noVAE', revision: '305469dfd7d7410cff6299d34727e237374b5f36' },
    ...diffusersSd15(null), licence: OPENRAIL,
    confirmedBy: HF_TREE('SG161222/Realistic_Vision_V5.1_noVAE', '305469dfd7d7410cff6299d34727e237374b5f36/text_encoder'),
  }),
  sd15Base({
    id: 'dreamshaper-8', label: 'DreamShaper 8 (fp16)',
    note: 'Lykon/dreamshaper-8: a versatile artistic SD1.5 model, fp16 diffusers files.',
    origin: { kind: 'hub', repo: 'Lykon/dreamshaper-8' },
    files: [
      f('unet/diffusion_pytorch_model.fp16.safetensors'),
      f('vae/diffusion_pytorch_model.fp16.safetensors', { sha256: 'ff38c7ec66a4ae76f466a3ade876522bff4fea8add1981cc433f518666cea33d' }),
      f('text_encoder/model.fp16.safetensors'),
    ],
    configs: diffusersSd15('fp16').configs, licence: OPENRAIL,
    confirmedBy: 'https://huggingface.co/Lykon/dreamshaper-8/tree/main/text_encoder; vae sha256 from the LFS details of vae/diffusion_pytorch_model.fp16.safetensors',
  }),
  sd15Base({
    id: 'toonyou-beta6', label: 'ToonYou beta 6 (cartoon, single file)',
    note: 'frankjoshua/toonyou_beta6: the cartoon model of the AnimateDiff paper and the diffusers AnimateDiff docs; one single-file checkpoint.',
    origin: { kind: 'hub', repo: 'frankjoshua/toonyou_beta6' },
    files: [f('toonyou_beta6.safetensors')], configs: [], licence: 'see the model card',
    confirmedBy: 'diffusers AnimateDiffPipeline docstring (AnimateDiffPipeline.from_pretrained("frankjoshua/toonyou_beta6")); resolve/main/toonyou_beta6.safetensors in public download scripts',
  }),
  {
    id: 'tiny', kind: 'base', label: 'Tiny test model (random weights)',
    note: '8.4 MB of random weights (13.8 MB with the tiny motion module, the tokenizer and configs) served by this app itself: it makes colourful noise, fast. For tests and demos.',
    origin: { kind: 'local', base: '/tiny-model/' },
    files: [f('unet_diffusers.safetensors'), f('vae_diffusers.safetensors'), f('text_encoder_transformers.safetensors')],
    configs: [f('unet_config.json'), f('vae_config.json'), f('text_encoder_config.json')],
    licence: 'test data', family: 'tiny', confirmedBy: 'e2e/tiny-model.ts',
    tokenizer: 'tiny-tokenizer', defaultSize: 64, needsShaderF16: false,
  },
];

// ------------------------------------------------------------------ motion modules

const adapter = (version: 'v1' | 'v2' | 'v3', id: string, repo: string, revision: string, label: string, note: string): MotionEntry => ({
  id, kind: 'motion', label, note, version,
  origin: { kind: 'hub', repo, revision },
  files: [f('diffusion_pytorch_model.fp16.safetensors')], configs: [f('config.json')],
  licence: 'apache-2.0', family: 'sd15', motionLoraCompatible: version === 'v2',
  confirmedBy: HF_TREE(repo, revision),
});

const LIGHTNING_REPO = 'ByteDance/AnimateDiff-Lightning';
const LIGHTNING_REV = '027c893eec01df7330f5d4b733bc9485ee02e8b2';
const lightning = (steps: 1 | 2 | 4 | 8): MotionEntry => ({
  id: `lightning-${steps}`, kind: 'motion', label: `AnimateDiff-Lightning, ${steps} step${steps > 1 ? 's' : ''}`,
  note: `${LIGHTNING_REPO}: distilled from v2; Euler (trailing), guidance 1, ${steps} step${steps > 1 ? 's' : ''}.${steps === 1 ? ' The model card calls the 1-step model experimental.' : ''}`,
  version: 'lightning', lightningSteps: steps,
  origin: { kind: 'hub', repo: LIGHTNING_REPO, revision: LIGHTNING_REV },
  files: [f(`animatediff_lightning_${steps}step_diffusers.safetensors`)], configs: [],
  licence: OPENRAIL, family: 'sd15', motionLoraCompatible: true, confirmedBy: HF_TREE(LIGHTNING_REPO, LIGHTNING_REV),
});

const ANIMATELCM_REPO = 'wangfuyun/AnimateLCM';
const ANIMATELCM_REV = '76d7e23ed24c70fa890de55200a6072aeb189f29';

const motions: MotionEntry[] = [
  adapter('v2', 'v2', 'guoyww/animatediff-motion-adapter-v1-5-2', '640522d705d495d5f8ca7d1a8f9a9d4fc46ea0c6',
    'AnimateDiff v2 (mm_sd_v15_v2)', 'guoyww/animatediff-motion-adapter-v1-5-2 — the most used motion module; works with MotionLoRAs.'),
  adapter('v3', 'v3', 'guoyww/animatediff-motion-adapter-v1-5-3', '449d8993ead63a068e1030eb26925132814db1c8',
    'AnimateDiff v3 (v3_sd15_mm)', 'guoyww/animatediff-motion-adapter-v1-5-3.'),
  adapter('v1', 'v1', 'guoyww/animatediff-motion-adapter-v1-5', '50585043613863954defef3da6869e012623d0fb',
    'AnimateDiff v1 (mm_sd_v15)', 'guoyww/animatediff-motion-adapter-v1-5.'),
  lightning(1), lightning(2), lightning(4), lightning(8),
  {
    id: 'animatelcm', kind: 'motion', label: 'AnimateLCM',
    note: `${ANIMATELCM_REPO}: LCM scheduler, few steps, low guidance; applies its t2v LoRA to the base model.`,
    version: 'animatelcm', origin: { kind: 'hub', repo: ANIMATELCM_REPO, revision: ANIMATELCM_REV },
    files: [f('diffusion_pytorch_model.fp16.safetensors')], configs: [f('config.json')],
    licence: 'see the model card', family: 'sd15', motionLoraCompatible: false,
    companionLora: { id: 'animatelcm-t2v-lora', strength: 0.8 },
    confirmedBy: `${HF_TREE(ANIMATELCM_REPO, ANIMATELCM_REV)}; diffusers AnimateLCM docs (set_adapters 0.8)`,
  },
  {
    id: 'tiny', kind: 'motion', label: 'Tiny test motion module (random weights)', note: 'Pairs with the tiny test model.',
    version: 'v2', testSteps: 3, origin: { kind: 'local', base: '/tiny-model/' },
    files: [f('motion_adapter_diffusers.safetensors')], configs: [f('motion_adapter_config.json')],
    licence: 'test data', family: 'tiny', motionLoraCompatible: false, confirmedBy: 'e2e/tiny-model.ts',
  },
];

// ------------------------------------------------------------------ LoRAs

/** guoyww's eight camera-motion LoRAs (diffusers conversions), trained on the v2 module. */
const MOTION_LORAS: [string, string, string?][] = [
  ['zoom-in', 'Zoom in'],
  ['zoom-out', 'Zoom out', '68f1d1832ed2ab77a635dc19c60a260fb6bc3fda'],
  ['pan-left', 'Pan left'],
  ['pan-right', 'Pan right'],
  ['tilt-up', 'Tilt up'],
  ['tilt-down', 'Tilt down'],
  ['rolling-clockwise', 'Roll clockwise'],
  ['rolling-anticlockwise', 'Roll anticlockwise'],
];

const loras: LoraEntry[] = [
  ...MOTION_LORAS.map(([id, label, revision]): LoraEntry => {
    const repo = `guoyww/animatediff-motion-lora-${id}`;
    return {
      id, kind: 'motion-lora', label, note: `${repo}: a camera motion for the v2 motion module.`,
      origin: { kind: 'hub', repo, ...(revision ? { revision } : {}) },
      files: [f('diffusion_pytorch_model.safetensors')], configs: [],
      licence: 'apache-2.0', family: 'sd15', defaultStrength: 0.8,
      confirmedBy: `${HF_TREE(repo, revision)}; the Motion LoRA list on the guoyww/animatediff-motion-lora-* model cards`,
    };
  }),
  {
    id: 'animatelcm-t2v-lora', kind: 'lora', label: 'AnimateLCM t2v LoRA',
    note: 'The LoRA AnimateLCM\'s motion module is meant to be used with (applied to the base model).',
    origin: { kind: 'hub', repo: ANIMATELCM_REPO, revision: ANIMATELCM_REV },
    files: [f('AnimateLCM_sd15_t2v_lora.safetensors')], configs: [],
    licence: 'see the model card', family: 'sd15', defaultStrength: 0.8,
    confirmedBy: `${HF_TREE(ANIMATELCM_REPO, ANIMATELCM_REV)}; the model card's load_lora_weights example`,
  },
];

export const CATALOGUE: readonly CatalogueEntry[] = [...bases, ...motions, ...loras, ...tokenizers];
