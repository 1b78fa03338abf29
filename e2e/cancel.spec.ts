// Cancel takes effect within seconds at any size (issue 10 #1). The engine keeps only a fraction of a second of work
// queued ahead of the GPU and drops the rest on cancel (tests/engine.test.ts); a worker that still does not confirm
// in time (here: step 1 of a large run, where SwiftShader is building its GPU kernels, which nothing can interrupt)
// is ended by the UI, keeping the model choice.
import { expect, test } from '@playwright/test';
import { useTinyModel } from './helpers';

test('Esc during the first step of a long run stops it within seconds; the models stay chosen and a reload finds WebGPU', async ({ page }) => {
  test.setTimeout(400_000);
  await page.goto('/');
  // The tiny model at 512², 16 frames with guidance: step 1 is minutes of SwiftShader work.
  await useTinyModel(page, { frames: 16, steps: 3, size: 512 });
  const status = page.getByRole('status', { name: 'Generation status' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(status).toContainText(/^Step 1 of 3/, { timeout: 300_000 });
  await page.waitForTimeout(3_000); // the step's work is recorded and queued by now
  const t0 = Date.now();
  await page.keyboard.press('Escape');
  await expect(status).toHaveText(/^Cancelled/, { timeout: 10_000 });
  expect(Date.now() - t0).toBeLessThan(10_000);
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled();
  await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('preset:tiny');
  // The GPU process is not left working through minutes of abandoned submissions: a reload gets its adapter.
  // (Before: the whole step stayed queued, minutes here. Now: what was in flight, 22 s measured on a loaded 2-core CI.)
  await page.reload();
  await expect(page.locator('.adapter')).toContainText('swiftshader', { timeout: 60_000 });
});
