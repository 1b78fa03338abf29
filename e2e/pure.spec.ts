// The app's pure helpers, tested in Node (no browser page): export file names, GIF delays, sprite layout,
// the capability advice and the spec's ranges (whether a run fits is the memory planner's: tests/plan.test.ts).
import { expect, test } from '@playwright/test';
import { exportFileName, slugify } from '../src/export/filename';
import { gifDelayMs } from '../src/export/gif-delay';
import { spriteLayout } from '../src/export/png';
import { assessSettings } from '../src/worker/capability';
import { parseSpec } from '../src/pipeline/spec';
import type { Capabilities } from '../src/worker/protocol';

test('file names: slug of the prompt (folded, lower case, cut at a word) and the seed', () => {
  expect(slugify('A Café at Night — rain, neon!')).toBe('a-cafe-at-night-rain-neon');
  expect(slugify('one two three four five six seven eight nine ten eleven twelve', 20)).toBe('one-two-three-four');
  expect(slugify('x'.repeat(80), 10)).toBe('xxxxxxxxxx');
  expect(exportFileName('  ', 7, 'gif')).toBe('animation-seed7.gif');
  expect(exportFileName('Zoom in!', 4294967295, 'png', 'frame03')).toBe('zoom-in-seed4294967295-frame03.png');
});

test('GIF delays are whole centiseconds, at least 2', () => {
  expect([8, 10, 12, 24, 60].map(gifDelayMs)).toEqual([130, 100, 80, 40, 20]);
});

test('sprite sheets are near-square grids', () => {
  expect(spriteLayout(16, 64, 32)).toEqual({ columns: 4, rows: 4, width: 256, height: 128 });
  expect(spriteLayout(6, 10, 10)).toEqual({ columns: 3, rows: 2, width: 30, height: 20 });
  expect(spriteLayout(1, 8, 8)).toEqual({ columns: 1, rows: 1, width: 8, height: 8 });
});

const settings = { version: 1, prompts: [{ frame: 0, prompt: 'p' }], negativePrompt: '', seed: 1, frames: 16, width: 512, height: 512, steps: 25, guidance: 7.5, scheduler: 'ddim' };

test('capability advice: no WebGPU blocks; a software adapter warns; no f16 informs', () => {
  const none: Capabilities = { webgpu: false, problem: 'no navigator.gpu' };
  expect(assessSettings(none)).toEqual([expect.objectContaining({ level: 'error', message: 'no navigator.gpu' })]);
  const gpu = (over: Partial<NonNullable<Capabilities['adapter']>>, mem?: number): Capabilities => ({
    webgpu: true, deviceMemoryGiB: mem,
    adapter: { name: 'test', f16: true, isFallback: false, maxBufferSize: 4 * 2 ** 30, maxStorageBufferBindingSize: 2 ** 30, maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, ...over },
  });
  expect(assessSettings(gpu({}))).toEqual([]);
  const levels = (c: Capabilities) => assessSettings(c).map((a) => `${a.level}: ${a.message}`);
  expect(levels(gpu({ isFallback: true }))).toEqual([expect.stringMatching(/^warning: WebGPU runs on a software adapter \(test\)/)]);
  expect(levels(gpu({ f16: false }))).toEqual([expect.stringMatching(/^info: This GPU has no 16-bit float shaders/)]);
});

test('spec validation names the setting and the allowed range', () => {
  expect(() => parseSpec(settings)).not.toThrow();
  expect(() => parseSpec({ ...settings, frames: 2000 })).toThrow('Frames must be a whole number from 1 to 1024 (got 2000).');
  expect(() => parseSpec({ ...settings, width: 500 })).toThrow('Width must be a multiple of 8 from 8 to 2048 (got 500).');
  expect(() => parseSpec({ ...settings, width: 360, height: 640 })).not.toThrow();
  expect(() => parseSpec({ ...settings, steps: 0 })).toThrow('Steps must be a whole number from 1 to 100 (got 0).');
  expect(() => parseSpec({ ...settings, seed: -1 })).toThrow('Seed must be a whole number from 0 to 4294967295 (got -1).');
});
