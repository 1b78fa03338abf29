// End-to-end generation with the tiny random-weight model (64×64, 8 frames, a few steps) on headless Chromium's
// software WebGPU: the worker loads the real file layouts over HTTP Range from /tiny-model/, runs the pipeline,
// and the page shows progress, the x0 preview and the decoded frames.
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { GifReader } from 'omggif';
import { canvasPixels, distinctColours, meanAbsDiff, showFrame, useTinyModel } from './helpers';

/** Records every status text and what the canvas showed, as they change (the run may be fast). */
async function recordProgress(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __statuses: string[]; __showing: string[] };
    w.__statuses = [];
    w.__showing = [];
    const status = document.querySelector('[role="status"]')!;
    const canvas = document.querySelector('canvas')!;
    new MutationObserver(() => w.__statuses.push(status.textContent ?? '')).observe(status, { childList: true, subtree: true, characterData: true });
    new MutationObserver(() => w.__showing.push(canvas.dataset.showing ?? '')).observe(canvas, { attributes: true, attributeFilter: ['data-showing'] });
  });
}

const recorded = (page: Page) => page.evaluate(() => {
  const w = window as unknown as { __statuses: string[]; __showing: string[] };
  return { statuses: w.__statuses, showing: w.__showing };
});

const generateButton = (page: Page) => page.getByRole('button', { name: 'Generate' });
const status = (page: Page) => page.getByRole('status').first();

test('generate with the tiny model: progress, preview, frames on the canvas, GIF export, history, same seed = same frames', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto('/');
  await useTinyModel(page, { frames: 8, steps: 3, size: 64 });
  await page.getByLabel('Prompt', { exact: true }).fill('a tiny test animation of colourful noise');
  await page.getByLabel('New random seed each run').uncheck();
  await page.getByLabel('Seed', { exact: true }).fill('1234');
  await recordProgress(page);
  await generateButton(page).click();
  await expect(page.getByRole('button', { name: 'Cancel' })).toBeVisible();
  await expect(status(page)).toContainText(/^Done: 8 frames in/, { timeout: 480_000 });

  const { statuses, showing } = await recorded(page);
  expect(statuses.some((s) => s.startsWith('Loading models'))).toBe(true);
  for (const i of [1, 2, 3]) expect(statuses.some((s) => s.startsWith(`Step ${i} of 3`)), `saw "Step ${i} of 3"`).toBe(true);
  expect(statuses.some((s) => /elapsed · about \d+:\d\d left/.test(s))).toBe(true);
  expect(statuses.some((s) => s.startsWith('Decoding frame'))).toBe(true);
  expect(showing).toContain('preview');
  expect(showing.at(-1)).toBe('result');

  // The decoded frames: 64×64, not blank, and the animation moves (frames differ).
  await showFrame(page, 0);
  const first = await canvasPixels(page);
  await showFrame(page, 7);
  const last = await canvasPixels(page);
  expect([first.width, first.height]).toEqual([64, 64]);
  expect(distinctColours(first.data)).toBeGreaterThan(50);
  expect(meanAbsDiff(first.data, last.data)).toBeGreaterThan(1);
  await expect(page.locator('.result-info')).toContainText('seed 1234');

  // GIF export: 8 frames of 64×64, named from prompt and seed.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('group', { name: 'Export' }).getByRole('button', { name: 'GIF', exact: true }).click()]);
  expect(dl.suggestedFilename()).toBe('a-tiny-test-animation-of-colourful-noise-seed1234.gif');
  const gif = new GifReader(new Uint8Array(readFileSync((await dl.path())!)));
  expect(gif.numFrames()).toBe(8);
  expect([gif.width, gif.height]).toEqual([64, 64]);

  // History keeps it.
  await expect(page.getByRole('button', { name: 'Open "a tiny test animation of colourful noise" (seed 1234)' })).toBeVisible();

  // The same seed and settings give the same frames (models stay loaded: no second "Loading models").
  await recordProgress(page);
  await generateButton(page).click();
  await expect(status(page)).toContainText(/^Done: 8 frames in/, { timeout: 300_000 });
  expect((await recorded(page)).statuses.some((s) => s.startsWith('Loading models'))).toBe(false);
  await showFrame(page, 0);
  expect(meanAbsDiff((await canvasPixels(page)).data, first.data)).toBe(0);
});

test('cancel mid-run returns to ready within a step, and the next run works', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto('/');
  await useTinyModel(page, { frames: 8, steps: 40, size: 64 });
  await page.getByLabel('Prompt', { exact: true }).fill('cancel me');
  await generateButton(page).click();
  await expect(status(page)).toContainText(/^Step \d+ of 40/, { timeout: 300_000 });
  await recordProgress(page);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(status(page)).toHaveText('Cancelled.', { timeout: 120_000 });
  const steps = (await recorded(page)).statuses.map((s) => /^Step (\d+) of 40/.exec(s)?.[1]).filter(Boolean).map(Number);
  // At most one more step finished after the click (the one already running).
  expect(steps.length).toBeLessThanOrEqual(2);
  await expect(generateButton(page)).toBeEnabled();
  await expect(page.locator('canvas')).not.toHaveAttribute('data-showing', 'preview');

  await page.getByLabel('Steps', { exact: true }).fill('2');
  await generateButton(page).click();
  await expect(status(page)).toContainText(/^Done: 8 frames in/, { timeout: 300_000 });
  await expect(page.locator('canvas')).toHaveAttribute('data-showing', 'result');
});
