#!/usr/bin/env node
// `npm test`: first the machine set-up it needs (scripts/test-setup.mjs: Debian packages where it may install them,
// Mesa lavapipe; otherwise it stops at once with the command to run), then typecheck, unit/kernel/model/conformance
// tests (vitest, Node + software WebGPU), then the Playwright e2e suite (headless Chromium WebGPU). Every test stage
// runs even if an earlier one fails, so a run reports everything at once; the last line totals both suites as
// "N passed, M failed, …".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { LAVAPIPE_ICD, setUp } from './test-setup.mjs';

if (setUp() !== 0) process.exit(1);
// On lavapipe (the adapter scripts/with-gpu.mjs picks when nothing else is named) f16 tests must run, never skip.
if (!process.env.VK_ICD_FILENAMES && !process.env.ADW_REAL_GPU && existsSync(LAVAPIPE_ICD)) process.env.ADW_REQUIRE_F16 ??= '1';

const out = '.cache/test-results';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const run = (cmd, args, env = {}) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;

const failures = [];
if (run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']) !== 0) failures.push('typecheck');
if (run('node', ['scripts/with-gpu.mjs', 'npx', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}/vitest.json`]) !== 0) failures.push('unit');
if (run('npx', ['vite', 'build']) !== 0) failures.push('build');
else if (run('npx', ['playwright', 'test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: `${out}/e2e.json` }) !== 0) failures.push('e2e');

let passed = 0, failed = 0, pending = 0, skipped = 0;
const readJson = (f) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null);
const vitest = readJson(`${out}/vitest.json`);
if (vitest) { passed += vitest.numPassedTests; failed += vitest.numFailedTests; pending += vitest.numTodoTests ?? 0; skipped += vitest.numPendingTests ?? 0; }
const e2e = readJson(`${out}/e2e.json`);
if (e2e?.stats) { passed += e2e.stats.expected + (e2e.stats.flaky ?? 0); failed += e2e.stats.unexpected; skipped += e2e.stats.skipped ?? 0; }
failed += failures.filter((f) => f === 'typecheck' || f === 'build').length;
if (failures.length) console.log(`\nfailed stages: ${failures.join(', ')}`);
console.log(`\nTotal: ${passed} passed, ${failed} failed, ${pending} pending, ${skipped} skipped`);
process.exit(failures.length ? 1 : 0);
