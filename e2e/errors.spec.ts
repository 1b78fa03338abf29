import { expect, type Page, test } from '@playwright/test';

/** Drops a file with these bytes onto the page (as a user dragging it from the desktop would). */
async function dropFile(page: Page, name: string, bytes: number[], target = 'main'): Promise<void> {
  const dt = await page.evaluateHandle(({ name, bytes }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], name, { type: 'application/octet-stream' }));
    return dt;
  }, { name, bytes });
  await page.locator(target).first().dispatchEvent('dragover', { dataTransfer: dt });
  await page.locator(target).first().dispatchEvent('drop', { dataTransfer: dt });
}

/** A safetensors header that claims a 1000-byte tensor the file does not have. */
function truncatedSafetensors(): number[] {
  const header = JSON.stringify({ 'conv_in.weight': { dtype: 'F32', shape: [250], data_offsets: [0, 1000] } });
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(header.length));
  return [...n, ...Buffer.from(header), 1, 2, 3, 4];
}

// Opening a file happens in the worker after it has created its WebGPU device: allow for a slow, shared CI machine.
test.use({ actionTimeout: 30_000 });
const ALERT = { timeout: 60_000 };

test.beforeEach(async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Base model', { exact: true }).selectOption({ label: 'Tiny test model (random weights)' });
  await page.getByLabel('Steps', { exact: true }).fill('2');
  await expect(page.locator('.adapter')).toContainText('swiftshader');
});

test('a corrupt model file dropped on the page gives a specific error, and the app keeps working', async ({ page }) => {
  await dropFile(page, 'broken-model.safetensors', truncatedSafetensors());
  await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('file');
  await expect(page.getByText('broken-model.safetensors (1 KB)')).toBeVisible();
  await page.getByRole('button', { name: 'Generate' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('broken-model.safetensors is not a valid .safetensors file (it is corrupt or truncated).', ALERT);
  await alert.getByText('Details').click();
  await expect(alert).toContainText('truncated');
  // Still usable: the controls are enabled again, and another file gives its own, different explanation.
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled();
  await alert.getByRole('button', { name: 'Dismiss' }).click();
  await expect(page.getByRole('alert')).toHaveCount(0);
  // A pickle dropped on the page is refused at once (before any Generate), and does not replace the base model.
  await dropFile(page, 'model.ckpt.safetensors', [0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]);
  await expect(page.getByRole('alert')).toContainText('model.ckpt.safetensors is a PyTorch pickle');
  await expect(page.getByText('broken-model.safetensors (1 KB)')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled();
});

test('a .ckpt dropped on the page is refused as a pickle at once and never becomes the base model', async ({ page }) => {
  await dropFile(page, 'v1-5-pruned.ckpt', [0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x0a, 0, 0, 0, 0]); // pickle protocol 2: PROTO, EMPTY_DICT, …
  await expect(page.getByRole('alert')).toContainText('v1-5-pruned.ckpt is a PyTorch pickle');
  await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('preset:tiny');
  // A valid safetensors start is taken, and says so.
  await dropFile(page, 'mine.safetensors', truncatedSafetensors());
  await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('file');
  await expect(page.getByRole('status', { name: 'Generation status' })).toHaveText('mine.safetensors is the base model now.');
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('a file dropped on the motion-module slot goes to that slot', async ({ page }) => {
  await dropFile(page, 'motion.safetensors', truncatedSafetensors(), '[data-testid="slot-Motion module"]');
  await expect(page.getByLabel('Motion module', { exact: true })).toHaveValue('file');
  await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('preset:tiny');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByRole('alert')).toContainText('motion.safetensors is not a valid .safetensors file', ALERT);
});

test('a model URL that does not exist names the file and the HTTP status', async ({ page }) => {
  await page.getByLabel('Motion module', { exact: true }).selectOption({ label: 'Hugging Face repo or URL…' });
  await page.getByLabel('Motion module URL').fill(`http://127.0.0.1:${process.env.ADW_E2E_PORT ?? 4173}/tiny-model/no-such-file.safetensors`);
  await page.getByRole('button', { name: 'Generate' }).click();
  const alert = page.getByRole('alert');
  // The status is in the headline, not only under Details.
  await expect(alert).toContainText('Could not download no-such-file.safetensors: not found (HTTP 404).', ALERT);
});

test('an empty URL is caught before anything runs', async ({ page }) => {
  await page.getByLabel('Motion module', { exact: true }).selectOption({ label: 'Hugging Face repo or URL…' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByRole('alert')).toContainText('Enter the URL of the motion module');
});

test('the tiny-model server answers a malformed %-escape with 400, not a crash', async ({ page }) => {
  const r = await page.request.get('/tiny-model/50%.safetensors');
  expect(r.status()).toBe(400);
  expect((await page.request.get('/tiny-model/unet_config.json')).status()).toBe(200);
});
