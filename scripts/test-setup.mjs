#!/usr/bin/env node
// What `npm test` needs on the machine before any test runs, installed where it can be and otherwise named at once:
//   - npm dependencies (node_modules): `npm ci` first;
//   - Debian packages: chromium (the e2e browser and its SwiftShader WebGPU), libvulkan1 (the Vulkan loader Dawn
//     opens), mesa-vulkan-drivers (the LLVM/libdrm libraries Mesa lavapipe links against); installed with apt-get
//     when running as root, else npm test stops with the exact `sudo apt-get install …` line;
//   - Mesa 25 lavapipe in .cache/mesa (scripts/fetch-lavapipe.sh, no root needed): the Node-side WebGPU adapter
//     with shader-f16. Not needed with ADW_REAL_GPU=1 (a machine with a GPU) or an explicit VK_ICD_FILENAMES.
// `planSetup` decides from facts (pure, tested in tests/test-setup.test.ts); `main` gathers the facts and acts.
// .ci/run and scripts/run-tests.mjs (npm test) both call this.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const LAVAPIPE_ICD = '.cache/mesa/lvp_abs.json';

/**
 * @typedef {{ nodeModules: boolean, apt: boolean, root: boolean, missingPackages: string[], lavapipe: boolean, ownAdapter: boolean, chromiumOverride: boolean }} SetupFacts
 * @typedef {{ cmd: string, args: string[], why: string }} SetupStep
 * @typedef {{ steps: SetupStep[] } | { stop: string }} SetupPlan
 */

/** The Debian packages the tests need (chromium is not needed when CHROMIUM_PATH names another browser). */
export function neededPackages(/** @type {{ chromiumOverride: boolean, ownAdapter: boolean }} */ f) {
  return [...(f.chromiumOverride ? [] : ['chromium']), 'libvulkan1', ...(f.ownAdapter ? [] : ['mesa-vulkan-drivers'])];
}

/** @param {SetupFacts} f @returns {SetupPlan} */
export function planSetup(f) {
  if (!f.nodeModules) return { stop: 'The npm dependencies are not installed. Run:\n  npm ci\nthen npm test again.' };
  /** @type {SetupStep[]} */
  const steps = [];
  if (f.missingPackages.length) {
    const list = f.missingPackages.join(' ');
    if (!f.apt) {
      return { stop: `npm test needs ${list} (Chromium for the e2e tests, the Vulkan loader and Mesa's libraries for software WebGPU), and this is not a Debian/Ubuntu system (no apt-get). Install the equivalents with your package manager, set CHROMIUM_PATH to the Chromium binary, and run npm test again.` };
    }
    if (!f.root) return { stop: `npm test needs Debian packages that are not installed. Run:\n  sudo apt-get update && sudo apt-get install -y ${list}\nthen npm test again.` };
    steps.push({ cmd: 'apt-get', args: ['update', '-qq'], why: 'package lists' });
    steps.push({ cmd: 'apt-get', args: ['install', '-y', '-qq', ...f.missingPackages], why: `installing ${list}` });
  }
  if (!f.ownAdapter && !f.lavapipe) {
    if (!f.apt) {
      return { stop: 'npm test runs WebGPU in Node on Mesa lavapipe, which scripts/fetch-lavapipe.sh fetches with apt-get (Debian/Ubuntu only). On a machine with a GPU run ADW_REAL_GPU=1 npm test; elsewhere point VK_ICD_FILENAMES at a Vulkan ICD JSON and run npm test again.' };
    }
    steps.push({ cmd: 'bash', args: ['scripts/fetch-lavapipe.sh'], why: 'Mesa lavapipe (software Vulkan with shader-f16) into .cache/mesa' });
  }
  return { steps };
}

/** @returns {SetupFacts} */
export function gatherFacts(env = process.env) {
  const has = (/** @type {string} */ cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  const apt = has('apt-get') && has('dpkg');
  const chromiumOverride = Boolean(env.CHROMIUM_PATH && existsSync(env.CHROMIUM_PATH));
  const ownAdapter = Boolean(env.ADW_REAL_GPU || env.VK_ICD_FILENAMES);
  const installed = (/** @type {string} */ p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status === 0;
  const wanted = neededPackages({ chromiumOverride, ownAdapter });
  return {
    nodeModules: existsSync('node_modules/.bin/vitest'),
    apt,
    root: typeof process.getuid === 'function' && process.getuid() === 0,
    missingPackages: apt ? wanted.filter((p) => !installed(p)) : (chromiumOverride || existsSync('/usr/bin/chromium') ? [] : ['chromium']),
    lavapipe: existsSync(resolve(LAVAPIPE_ICD)),
    ownAdapter,
    chromiumOverride,
  };
}

/** Runs the plan; returns 0 when the machine is ready, 1 after printing what to do. */
export function setUp(env = process.env) {
  const plan = planSetup(gatherFacts(env));
  if ('stop' in plan) {
    console.error(`\nnpm test cannot start yet.\n${plan.stop}\n`);
    return 1;
  }
  for (const s of plan.steps) {
    console.log(`test set-up: ${s.why} (${s.cmd} ${s.args.join(' ')})`);
    const r = spawnSync(s.cmd, s.args, { stdio: 'inherit', env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      console.error(`\nnpm test set-up failed at: ${s.cmd} ${s.args.join(' ')} (exit ${r.status ?? r.error?.message}). Run it by hand to see why, then npm test again.\n`);
      return 1;
    }
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(setUp());
