// The memory planner's verdict in the page, before anything is downloaded: the tiny test model on SwiftShader with
// the storage-binding limit lowered to 1 MiB (`?maxBinding=`, which the engine and the planner both obey: a smaller
// GPU, simulated; the planner itself is the real one).
import { expect, type Page, test } from '@playwright/test';
import { useTinyModel } from './helpers';
import { tinyModelResponse } from './tiny-model';

const planNotice = (page: Page) => page.getByRole('region', { name: 'Memory plan' });

test('a run the planner refuses: Generate is disabled with the reason, only headers are read, and the smaller setting offered fits', async ({ page }) => {
  const weightReads: { url: string; range: string | undefined }[] = [];
  page.on('request', (r) => { if (/\/tiny-model\/.*\.safetensors/.test(r.url())) weightReads.push({ url: r.url(), range: r.headers().range }); });
  await page.goto('/?maxBinding=1048576');
  await expect(page.locator('.adapter')).toContainText('swiftshader');
  await useTinyModel(page, { frames: 8, steps: 1, size: 64 });
  const notice = planNotice(page);
  const generate = page.getByRole('button', { name: 'Generate' });
  // A run that fits: the planned peak against the (lowered) limit.
  await expect(notice).toContainText(/Planned \d+ (KB|MB) of GPU memory \(f32 activations, f32 weights\); this GPU allows 1 MB per buffer binding/, { timeout: 120_000 });
  await expect(generate).toBeEnabled();

  // 512², 16 frames: one whole-frame tensor is over the limit.
  await page.getByLabel('Width', { exact: true }).fill('512');
  await page.getByLabel('Height', { exact: true }).fill('384');
  await page.getByLabel('Frames', { exact: true }).fill('16');
  await expect(notice).toContainText(/This run cannot fit this GPU: 512×384 with 16 frames .*over the 1048576-byte binding limit; this GPU allows 1 MB per buffer binding/, { timeout: 120_000 });
  await expect(generate).toBeDisabled();
  await expect(generate).toHaveAccessibleDescription(/cannot fit this GPU/);
  // Ctrl+Enter does not start it either.
  await page.getByLabel('Prompt', { exact: true }).press('Control+Enter');
  await expect(page.getByRole('status', { name: 'Generation status' })).toHaveText('Ready.');

  // Nothing was downloaded to decide: every read of a weight file was a byte range inside its header.
  expect(weightReads.length).toBeGreaterThan(0);
  for (const r of weightReads) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
    expect(m, `${r.url} read without a Range`).not.toBeNull();
    const file = tinyModelResponse(decodeURIComponent(new URL(r.url).pathname.split('/').pop()!), undefined).body;
    const headerEnd = 8 + Number(file.readBigUInt64LE(0));
    expect(Number(m![2]), `${r.url}: ${r.range} reaches past the header (${headerEnd} bytes of ${file.length})`).toBeLessThan(headerEnd);
  }

  // The offer: the largest smaller size with the same aspect that the planner accepts.
  const offer = notice.getByRole('button', { name: /^Use \d+×\d+ instead \(planned .* of GPU memory\)$/ });
  await expect(offer).toBeVisible({ timeout: 120_000 });
  const [, w, h] = /^Use (\d+)×(\d+)/.exec((await offer.textContent())!)!;
  expect(Number(w)).toBeLessThan(512);
  // Same aspect: the height is a multiple of 8, the width rounded down to one (at most 8 px off 4/3 of it).
  expect(Math.abs(Number(w) * 3 - Number(h) * 4)).toBeLessThanOrEqual(24);
  await offer.click();
  await expect(page.getByLabel('Width', { exact: true })).toHaveValue(w);
  await expect(page.getByLabel('Height', { exact: true })).toHaveValue(h);
  await expect(notice).toContainText(/Planned \d+ (KB|MB) of GPU memory/, { timeout: 120_000 });
  await expect(generate).toBeEnabled();
});
