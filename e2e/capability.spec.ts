import { expect, test } from '@playwright/test';

test('the page loads and finds the WebGPU adapter', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('status')).toContainText('WebGPU ready');
});
