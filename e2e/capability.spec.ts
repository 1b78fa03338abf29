import { chromium, expect, test } from '@playwright/test';

test('the worker finds the WebGPU adapter and explains a software adapter', async ({ page }) => {
  await page.goto('/');
  // The header badge names the adapter the worker found (SwiftShader in CI, without shader-f16).
  await expect(page.locator('.adapter')).toContainText('swiftshader');
  await expect(page.locator('.adapter')).toContainText('f32');
  const notes = page.getByRole('region', { name: 'Compatibility' });
  await expect(notes).toContainText('software adapter');
  await expect(notes).toContainText('shader-f16');
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled();
});

test('without navigator.gpu the page explains why and what to do, instead of going blank', async ({ page }) => {
  await page.addInitScript(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto('/');
  const alert = page.getByRole('region', { name: 'Compatibility' }).getByRole('alert');
  await expect(alert).toContainText('no WebGPU');
  await expect(alert).toContainText('recent Chrome or Edge');
  await expect(page.getByRole('button', { name: 'Generate' })).toBeDisabled();
  // The rest of the app is still there and usable.
  await expect(page.getByLabel('Prompt', { exact: true })).toBeEditable();
  await expect(page.getByRole('region', { name: 'History' })).toBeVisible();
});

test('a browser whose WebGPU has no adapter gets the no-adapter explanation from the worker', async () => {
  // Without --enable-unsafe-webgpu, headless Chromium on Linux has navigator.gpu but requestAdapter() → null.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ baseURL: `http://127.0.0.1:${process.env.ADW_E2E_PORT ?? 4173}` });
    await page.goto('/');
    const hasGpu = await page.evaluate(() => 'gpu' in navigator);
    test.skip(!hasGpu, 'this Chromium build has no navigator.gpu at all without the flag');
    const alert = page.getByRole('region', { name: 'Compatibility' }).getByRole('alert');
    await expect(alert).toContainText('no GPU adapter is available');
    await expect(page.getByRole('button', { name: 'Generate' })).toBeDisabled();
  } finally {
    await browser.close();
  }
});

test('settings too large for this GPU get a plain warning with a suggestion, which goes away at a smaller size', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('.adapter')).toContainText('swiftshader');
  const notes = page.getByRole('region', { name: 'Compatibility' });
  // SD 1.5 at 512², 16 frames, guidance 7.5, f32: the feed-forward activation is 32×64×64 rows × 2560 × 4 B ≈ 1.25 GiB,
  // over SwiftShader's 1 GiB maxBufferSize.
  await expect(notes).toContainText('512×512 with 16 frames needs GPU buffers of about 1.3 GB');
  await expect(notes).toContainText('Choose a smaller size or fewer frames.');
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled(); // a warning, not a refusal
  await page.getByRole('button', { name: '256²' }).click();
  await expect(page.getByLabel('Width', { exact: true })).toHaveValue('256');
  await expect(notes).not.toContainText('needs GPU buffers');
  await page.getByLabel('Frames', { exact: true }).fill('32');
  await page.getByRole('button', { name: '512²' }).click();
  await expect(notes).toContainText('512×512 with 32 frames needs GPU buffers of about 2.5 GB');
});
