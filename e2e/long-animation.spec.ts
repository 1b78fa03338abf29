// Long animations in the app with the tiny random-weight model (32×32, 1 step, no CFG: CI's software WebGPU):
// a 24-frame run with prompt travel, closed-loop sliding windows, motion strength and FreeInit, exported as a
// 24-frame GIF, reopened from history with every setting restored; then a 128-frame animation.
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { GifReader } from 'omggif';
import { canvasPixels, distinctColours, showFrame, useTinyModel } from './helpers';

const status = (page: Page) => page.getByRole('status', { name: 'Generation status' });
const generateButton = (page: Page) => page.getByRole('button', { name: 'Generate' });

async function recordStatuses(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __statuses: string[] };
    w.__statuses = [];
    const el = document.querySelector('p.status')!;
    new MutationObserver(() => w.__statuses.push(el.textContent ?? '')).observe(el, { childList: true, subtree: true, characterData: true });
  });
}
const statuses = (page: Page) => page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);

// Sized for a software adapter: the 24-frame run is 2 FreeInit iterations × 3 windows of 12 frames (one UNet pass
// each), the 128-frame run 4 windows of 32 without overlap (the fewest passes that cover 128 frames).
test('24 frames with prompt travel, a closed loop, motion strength and FreeInit; GIF of 24 frames; history restores it all; then 128 frames', async ({ page }) => {
  test.setTimeout(3_000_000);
  await page.goto('/');
  await useTinyModel(page, { frames: 8, steps: 1, size: 32 });
  await page.getByLabel('Guidance', { exact: true }).fill('1');
  await page.getByLabel('New random seed each run').uncheck();
  await page.getByLabel('Seed', { exact: true }).fill('77');

  // The keyframe editor refuses a bad line, naming it.
  const prompt = page.getByLabel('Prompt', { exact: true });
  await prompt.fill('0: a bud\n40: a flower');
  await expect(page.getByText('Line 2: frame 40 is out of range: the animation has frames 0 to 7.')).toBeVisible();

  await page.getByLabel('Sliding context windows (long animations)').check();
  await page.getByLabel('Frames', { exact: true }).fill('24');
  await expect(page.getByLabel('Frames (number)')).toHaveValue('24');
  await page.getByLabel('Window', { exact: true }).fill('12');
  await page.getByLabel('Overlap', { exact: true }).fill('4');
  await page.getByLabel('Closed loop (the last frame leads into the first)').check();
  await page.getByLabel('Motion strength', { exact: true }).fill('1.2');
  await page.getByLabel('FreeInit (steadier motion; runs the sampling several times)').check();
  await page.getByLabel('Fast sampling').check();
  await prompt.fill('0: a bud\n12: a flower');
  await expect(page.getByText(/^Line \d/)).toHaveCount(0);

  await recordStatuses(page);
  await generateButton(page).click();
  await expect(status(page)).toContainText(/^Done: 24 frames in/, { timeout: 1_500_000 });
  const seen = await statuses(page);
  expect(seen.some((s) => /^Iteration 2 of 2 · step 1 of 1 · window \d+ of \d+/.test(s)), seen.join(' | ')).toBe(true);

  await showFrame(page, 23);
  const last = await canvasPixels(page);
  expect([last.width, last.height]).toEqual([32, 32]);
  expect(distinctColours(last.data)).toBeGreaterThan(20);

  // GIF export: all 24 frames.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('group', { name: 'Export' }).getByRole('button', { name: 'GIF', exact: true }).click()]);
  expect(dl.suggestedFilename()).toBe('a-bud-seed77.gif');
  const gif = new GifReader(new Uint8Array(readFileSync((await dl.path())!)));
  expect(gif.numFrames()).toBe(24);
  expect([gif.width, gif.height]).toEqual([32, 32]);

  // History: change everything, reopen, and every setting comes back.
  const open = page.getByRole('button', { name: 'Open "a bud → a flower" (seed 77)' });
  await expect(open).toBeVisible();
  await page.getByLabel('FreeInit (steadier motion; runs the sampling several times)').uncheck();
  await page.getByLabel('Motion strength', { exact: true }).fill('0.5');
  await page.getByLabel('Sliding context windows (long animations)').uncheck();
  await prompt.fill('something else');
  await page.getByLabel('Seed', { exact: true }).fill('5');
  await open.click();
  await expect(prompt).toHaveValue('0: a bud\n12: a flower');
  await expect(page.getByLabel('Seed', { exact: true })).toHaveValue('77');
  await expect(page.getByLabel('Frames (number)')).toHaveValue('24');
  await expect(page.getByLabel('Sliding context windows (long animations)')).toBeChecked();
  await expect(page.getByLabel('Window', { exact: true })).toHaveValue('12');
  await expect(page.getByLabel('Overlap', { exact: true })).toHaveValue('4');
  await expect(page.getByLabel('Stride levels', { exact: true })).toHaveValue('1');
  await expect(page.getByLabel('Closed loop (the last frame leads into the first)')).toBeChecked();
  await expect(page.getByLabel('Motion strength', { exact: true })).toHaveValue('1.2');
  await expect(page.getByLabel('FreeInit (steadier motion; runs the sampling several times)')).toBeChecked();
  await expect(page.getByLabel('Iterations', { exact: true })).toHaveValue('2');
  await expect(page.getByLabel('Fast sampling')).toBeChecked();
  await expect(page.getByLabel('Guidance', { exact: true })).toHaveValue('1');

  // 128 frames in 4 open windows of 32 (FreeInit off, one prompt).
  await page.getByLabel('FreeInit (steadier motion; runs the sampling several times)').uncheck();
  await page.getByLabel('Closed loop (the last frame leads into the first)').uncheck();
  await prompt.fill('a long tiny animation');
  await page.getByLabel('Window', { exact: true }).fill('32');
  await page.getByLabel('Overlap', { exact: true }).fill('0');
  await page.getByLabel('Frames (number)').fill('128');
  await generateButton(page).click();
  await expect(status(page)).toContainText(/^Done: 128 frames in/, { timeout: 1_200_000 });
  await showFrame(page, 127);
  expect(distinctColours((await canvasPixels(page)).data)).toBeGreaterThan(20);
});
