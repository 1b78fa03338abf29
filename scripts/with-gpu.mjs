#!/usr/bin/env node
// Runs a command with a Vulkan ICD that Dawn (the `webgpu` npm package) can use on a machine
// without a GPU: Mesa 25 lavapipe when `scripts/fetch-lavapipe.sh` has put it in .cache/mesa
// (faster, has shader-f16), else Chromium's bundled SwiftShader (f32 only).
// An explicit VK_ICD_FILENAMES in the environment wins (a real GPU needs none: leave it unset).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const env = { ...process.env };
const lavapipe = resolve('.cache/mesa/lvp_abs.json');
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!env.VK_ICD_FILENAMES && !env.ADW_REAL_GPU) {
  if (existsSync(lavapipe)) env.VK_ICD_FILENAMES = lavapipe;
  else if (existsSync(swiftshader)) env.VK_ICD_FILENAMES = swiftshader;
}
const [cmd, ...args] = process.argv.slice(2);
// `npm run` puts node_modules/.bin on PATH, so local tools resolve by name.
const r = spawnSync(cmd, args, { stdio: 'inherit', env });
if (r.error) { console.error(`with-gpu: cannot run ${cmd}: ${r.error.message}`); process.exit(1); }
process.exit(r.status ?? 1);
