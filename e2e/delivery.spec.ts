// Model delivery in the browser, against a local imitation of the Hub (e2e/fake-hub.ts: listing API, resolve
// redirects to a second origin with X-Linked-Etag, Range, injected faults): the tiny model as a diffusers repo
// downloads into OPFS (a dropped connection resumes, corrupted bytes are re-fetched), loads from a repo and from a
// folder (picked, and dropped), a cancelled download leaves the worker and its models alive, deleting a model frees
// its space, and once cached the installed app reloads offline from its service worker and generates — all under
// the app's CSP.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, type Locator, type Page, test } from '@playwright/test';
import { type FakeHub, startFakeHub } from './fake-hub';
import { tinyModelResponse } from './tiny-model';
import { useTinyModel } from './helpers';

const tiny = (name: string) => tinyModelResponse(name, undefined).body;

/** The tiny model as a diffusers pipeline folder (what a Hub repo of SD1.5 looks like). */
function tinyDiffusers(): Record<string, Buffer> {
  return {
    'model_index.json': Buffer.from('{"_class_name":"StableDiffusionPipeline"}'),
    'unet/config.json': tiny('unet_config.json'),
    'unet/diffusion_pytorch_model.safetensors': tiny('unet_diffusers.safetensors'),
    'vae/config.json': tiny('vae_config.json'),
    'vae/diffusion_pytorch_model.safetensors': tiny('vae_diffusers.safetensors'),
    'text_encoder/config.json': tiny('text_encoder_config.json'),
    'text_encoder/model.safetensors': tiny('text_encoder_transformers.safetensors'),
  };
}

let hub: FakeHub;
test.beforeAll(async () => {
  hub = await startFakeHub();
  hub.addRepo('tiny/pipe', tinyDiffusers());
  hub.addRepo('tiny/slow', tinyDiffusers());
});
test.afterAll(async () => hub?.close());

/** Console errors and CSP violations of the page and its workers. */
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  return problems;
}

const status = (page: Page) => page.getByRole('status', { name: 'Generation status' });
const cspProblems = (all: string[]) => all.filter((t) => /Content Security Policy|unsafe-eval|EvalError/i.test(t));

/** Base model = a Hub repo of the fake Hub; motion module, tokenizer, sizes = the tiny model's. */
async function useRepoBase(page: Page, repo: string): Promise<void> {
  await useTinyModel(page, { frames: 8, steps: 1, size: 64 });
  await page.getByLabel('Base model', { exact: true }).selectOption('url');
  await page.getByLabel('Base model URL', { exact: true }).fill(repo);
  await page.getByLabel('Guidance', { exact: true }).fill('1');
}

/**
 * Generate until the models are loaded, then cancel; returns the load summary's lines. `loaded`: a text of this load's
 * summary, needed when an earlier load's summary is still on the page.
 */
async function loadThenCancel(page: Page, loaded?: string): Promise<string> {
  await page.getByRole('button', { name: 'Generate' }).click();
  const summary = page.locator('details.model-summary');
  const alert = page.locator('.error[role=alert]');
  await expect(loaded ? summary.filter({ hasText: loaded }).or(alert) : summary.or(alert)).toBeVisible({ timeout: 300_000 });
  if (await alert.isVisible()) throw new Error(`load failed: ${await alert.textContent()} ${await alert.locator('pre').textContent()}`);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(status(page)).toContainText(/Cancelled|Done/, { timeout: 300_000 });
  await expect(alert).toHaveCount(0);
  return (await summary.textContent()) ?? '';
}

/** Files and bytes in the model cache's OPFS directory, and the bytes of derived entries its manifest lists. */
async function opfsFiles(page: Page): Promise<{ files: number; bytes: number; derived: number }> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('models', { create: true });
    let files = 0, bytes = 0;
    for await (const [name, h] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (h.kind === 'file' && !/^manifest(\.1)?\.json$/.test(name)) { files++; bytes += (await (h as FileSystemFileHandle).getFile()).size; }
    }
    // The manifest's two slots (src/delivery/manifest.ts): the current state is the one with the higher seq.
    type Slot = { seq?: number; files: Record<string, { size: number; derived?: unknown }> };
    const slots: Slot[] = [];
    for (const name of ['manifest.json', 'manifest.1.json']) {
      const h = await dir.getFileHandle(name).catch(() => null);
      if (h) slots.push(JSON.parse(await (await h.getFile()).text()) as Slot);
    }
    const manifest = slots.reduce((a, b) => ((b.seq ?? 0) > (a.seq ?? 0) ? b : a));
    const derived = Object.values(manifest.files).reduce((a, f) => a + (f.derived ? f.size : 0), 0);
    return { files, bytes, derived };
  });
}

test('a diffusers repo downloads through the redirect, resumes a dropped connection, re-fetches corrupted bytes, loads; deleting it frees its space', async ({ page }) => {
  test.setTimeout(600_000);
  const problems = watchConsole(page);
  hub.log.length = 0;
  hub.faults.dropAfter!.set('unet/diffusion_pytorch_model.safetensors', { bytes: 200_000 });
  hub.faults.corruptOnce!.add('vae/diffusion_pytorch_model.safetensors');
  await page.goto(`/?hub=${encodeURIComponent(hub.hub)}`);
  await useRepoBase(page, 'tiny/pipe');
  const summary = await loadThenCancel(page);
  expect(summary).toContain('tiny/pipe: diffusers pipeline (unet, vae, text_encoder), full precision');
  // The dropped unet resumed with a Range request from where it stopped; the corrupted vae was fetched twice.
  const unetSha = hub.sha256(tinyDiffusers()['unet/diffusion_pytorch_model.safetensors']);
  expect(hub.log.some((l) => l.startsWith(`CDN GET /lfs/${unetSha}`) && /bytes=[1-9]\d*-$/.test(l)), hub.log.join('\n')).toBe(true);
  const vaeSha = hub.sha256(tinyDiffusers()['vae/diffusion_pytorch_model.safetensors']);
  // (Downloads only: the planner's header reads before them are closed ranges, bytes=0-15.)
  expect(hub.log.filter((l) => l.startsWith(`CDN GET /lfs/${vaeSha}`) && !/bytes=\d+-\d+$/.test(l)).length).toBe(2);

  // The storage manager lists it, complete, with the text encoder's graph built from it (derived data, so the next
  // load skips building it); deleting it removes its files and that graph from OPFS.
  await page.getByTestId('storage-panel').locator('summary').click();
  const row = page.getByTestId('stored-model').filter({ hasText: 'tiny/pipe' });
  // A worker that did not confirm the cancel in time was restarted: the new one may take a while to start and report.
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(row).not.toContainText('partly');
  await expect(row).toContainText('prepared from it for a faster start');
  const before = await opfsFiles(page);
  expect(before.derived).toBeGreaterThan(0);
  const size = Object.entries(tinyDiffusers()).filter(([p]) => p !== 'model_index.json').reduce((a, [, b]) => a + b.length, 0);
  expect(before.bytes).toBeGreaterThanOrEqual(size + before.derived);
  await row.getByRole('button', { name: 'Delete tiny/pipe' }).click();
  await expect(row).toHaveCount(0);
  const after = await opfsFiles(page);
  expect(after.derived).toBe(0);
  expect(before.bytes - after.bytes).toBe(size + before.derived);
  expect(cspProblems(problems)).toEqual([]);
});

/**
 * Drops a folder of this machine on `target` as the OS would (Chromium's DevTools drag events): the page's drop
 * handler gets real directory entries (webkitGetAsEntry) to walk, which a DataTransfer made in the page cannot give.
 */
async function dropFolder(page: Page, target: Locator, folder: string): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  const data = { items: [], files: [folder], dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop'] as const) {
    // DevTools drag events take viewport coordinates: the target in view, measured at each event (notices above it
    // can still move it while the page settles).
    await target.scrollIntoViewIfNeeded();
    const box = (await target.boundingBox())!;
    await cdp.send('Input.dispatchDragEvent', { type, x: box.x + box.width / 2, y: box.y + box.height / 2, data });
  }
  await cdp.detach();
}

test('a diffusers folder loads, chosen with the folder picker or dropped on the base-model slot', async ({ page }) => {
  test.setTimeout(600_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'adw-folder-'));
  try {
    const root = path.join(dir, 'tiny-diffusers');
    for (const [p, b] of Object.entries(tinyDiffusers())) {
      mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      writeFileSync(path.join(root, p), b);
    }
    await page.goto('/');
    await useTinyModel(page, { frames: 8, steps: 1, size: 64 });
    const slot = page.getByTestId('slot-Base model');
    // The folder picker takes it as 7 files with their paths.
    await page.getByLabel('Base model', { exact: true }).selectOption('file');
    await page.getByLabel('Base model folder', { exact: true }).setInputFiles(root);
    await expect(slot).toContainText('7 files');
    // Back to the preset, then the folder dropped on the slot: walked into the same 7 files, and it loads.
    await page.getByLabel('Base model', { exact: true }).selectOption({ label: 'Tiny test model (random weights)' });
    await expect(slot).not.toContainText('7 files');
    await expect(async () => {
      await dropFolder(page, slot, root);
      await expect(slot).toContainText('7 files', { timeout: 2_000 });
    }).toPass({ timeout: 30_000 });
    await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('file');
    await page.getByLabel('Guidance', { exact: true }).fill('1');
    const summary = await loadThenCancel(page);
    expect(summary).toContain('unet/diffusion_pytorch_model.safetensors');
    expect(summary).toContain('text_encoder/model.safetensors');
    expect(summary).toContain('vae/diffusion_pytorch_model.safetensors');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancelling a download keeps the worker and the loaded models alive, and the download resumes later', async ({ page }) => {
  test.setTimeout(900_000);
  await page.goto(`/?hub=${encodeURIComponent(hub.hub)}`);
  // Load the tiny model first, and let the run finish: a cancel here could take longer than the UI's grace on a
  // busy software adapter, and the restarted worker would hold no models.
  await useTinyModel(page, { frames: 8, steps: 1, size: 64 });
  await page.getByLabel('Guidance', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(status(page)).toContainText(/^Done/, { timeout: 600_000 });

  // A slow download of another model, cancelled part-way.
  hub.faults.slow!.set('unet/diffusion_pytorch_model.safetensors', 400_000);
  await page.getByLabel('Base model', { exact: true }).selectOption('url');
  await page.getByLabel('Base model URL', { exact: true }).fill('tiny/slow');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('downloads')).toContainText('downloading', { timeout: 120_000 });
  await expect(status(page)).toContainText('Downloading models');
  // Cancel only once part of the unet is stored, so the later resume has bytes to continue from (on a fast machine a
  // cancel right at 'downloading' can land before the first chunk, and the resume then rightly starts at 0).
  const unetBar = page.getByRole('progressbar', { name: /^Download progress, .*unet\/diffusion_pytorch_model\.safetensors$/ });
  await expect.poll(() => unetBar.evaluate((p) => (p as HTMLProgressElement).value), { timeout: 120_000 }).toBeGreaterThan(0);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(status(page)).toContainText('Cancelled', { timeout: 30_000 });

  // The worker answers, and what was downloaded is kept (partly).
  await page.getByTestId('storage-panel').locator('summary').click();
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.getByTestId('stored-model').filter({ hasText: 'tiny/slow' })).toContainText('partly downloaded');

  // The tiny model loaded before is still on the GPU: generating with it goes straight to sampling.
  await page.getByLabel('Base model', { exact: true }).selectOption({ label: 'Tiny test model (random weights)' });
  await page.evaluate(() => {
    const w = window as unknown as { __st: string[] };
    w.__st = [];
    const s = document.querySelector('p.status')!;
    new MutationObserver(() => w.__st.push(s.textContent ?? '')).observe(s, { childList: true, subtree: true, characterData: true });
  });
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(status(page)).toContainText(/^Step 1 of 1/, { timeout: 300_000 });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(status(page)).toContainText(/Cancelled|Done/, { timeout: 300_000 });
  const statuses = await page.evaluate(() => (window as unknown as { __st: string[] }).__st);
  expect(statuses.filter((s) => s.startsWith('Loading models') || s.startsWith('Downloading'))).toEqual([]);

  // Later, the slow model's download resumes where it stopped.
  hub.faults.slow!.clear();
  hub.log.length = 0;
  await useRepoBase(page, 'tiny/slow');
  await loadThenCancel(page, 'tiny/slow: diffusers pipeline');
  const unetSha = hub.sha256(tinyDiffusers()['unet/diffusion_pytorch_model.safetensors']);
  expect(hub.log.some((l) => l.startsWith(`CDN GET /lfs/${unetSha}`) && /bytes=[1-9]\d*-$/.test(l)), hub.log.join('\n')).toBe(true);
});

test('after caching, the app reloads offline from its service worker and generates with the cached tiny model, under the CSP', async ({ page, context }) => {
  test.setTimeout(900_000);
  const problems = watchConsole(page);
  const workerScript = page.waitForResponse((r) => /\/assets\/worker-[^/]*\.js$/.test(r.url()));
  await page.goto('/');
  // The worker (onnxruntime-web runs there) gets the policy from its response header; the page from its <meta>.
  // The header is read from a fresh request for the worker's URL: the page's own request can be a revalidation of
  // the copy the service worker's precache just fetched, and the preview server's 304 carries no headers (the
  // browser keeps the cached 200's, policy included), so its raw headers would show no policy.
  const workerCsp = (await page.request.get((await workerScript).url())).headers()['content-security-policy'] ?? '';
  expect(workerCsp).toContain("'wasm-unsafe-eval'");
  expect(workerCsp).not.toContain("'unsafe-eval'");
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(csp).toContain("'wasm-unsafe-eval'");
  expect(csp).not.toContain("'unsafe-eval'");
  // The policy is enforced: an injected inline script is refused (and reported).
  expect(await page.evaluate(() => new Promise<string>((resolve) => {
    document.addEventListener('securitypolicyviolation', (e) => resolve(`blocked by ${e.effectiveDirective}`), { once: true });
    const el = document.createElement('script');
    el.textContent = 'window.__inlineRan = true';
    document.head.append(el);
    setTimeout(() => resolve((window as unknown as { __inlineRan?: boolean }).__inlineRan ? 'ran' : 'no report'), 2000);
  }))).toBe('blocked by script-src-elem');
  problems.length = 0; // that refusal was the point
  await page.evaluate(async () => { await navigator.serviceWorker.ready; });

  // Loading downloads every file of the tiny model (weights, configs, tokenizer) into OPFS.
  await useTinyModel(page, { frames: 8, steps: 1, size: 64 });
  await page.getByLabel('Guidance', { exact: true }).fill('1');
  await loadThenCancel(page);
  // The storage report lists the stored model only once a live worker answers: after a cancel the UI restarted, the
  // new worker's script request is over (a request still in flight would fail when the context goes offline).
  await expect(page.getByTestId('storage-panel').locator('summary')).toContainText(/Storage: [1-9]/, { timeout: 60_000 });

  // Offline: nothing may leave the machine; the page and its assets come from the service worker.
  const network: string[] = [];
  page.on('requestfailed', (r) => network.push(`failed ${r.url()}`));
  page.on('response', (r) => { if (!r.fromServiceWorker() && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) network.push(`network ${r.url()}`); });
  await context.setOffline(true);
  await page.reload();
  // The storage report comes from the page's new worker, which can take a while to start on a busy machine.
  await expect(page.getByTestId('offline')).toContainText('Tiny test model (random weights)', { timeout: 60_000 });
  await useTinyModel(page, { frames: 8, steps: 1, size: 64 });
  await page.getByLabel('Guidance', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(status(page)).toContainText(/^Done/, { timeout: 600_000 });
  expect(network).toEqual([]);
  expect(cspProblems(problems)).toEqual([]);
  await context.setOffline(false);
});
