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
