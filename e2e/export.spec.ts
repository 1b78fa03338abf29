import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { GifReader } from 'omggif';
import { HISTORY_DB_VERSION } from '../app/src/history';
import { canvasPixels, distinctColours, meanAbsDiff, showFrame } from './helpers';

const W = 96;
const H = 64;
const FRAMES = 6;

/**
 * Puts a finished generation into the app's IndexedDB history, as the app itself stores them: PNG frames of a
 * moving gradient with a square that walks right, so every frame differs. Independent of the diffusion pipeline.
 */
async function seedHistory(page: Page): Promise<void> {
  await page.evaluate(async ({ W, H, FRAMES, VERSION }) => {
    const frames: Blob[] = [];
    for (let f = 0; f < FRAMES; f++) {
      const c = new OffscreenCanvas(W, H);
      const ctx = c.getContext('2d')!;
      const img = ctx.createImageData(W, H);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const i = (y * W + x) * 4;
          img.data[i] = (x * 255) / W;
          img.data[i + 1] = (y * 255) / H;
          img.data[i + 2] = (f * 255) / FRAMES;
          img.data[i + 3] = 255;
        }
      }
      ctx.putImageData(img, 0, 0);
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(8 + f * 12, 20, 16, 16);
      frames.push(await c.convertToBlob({ type: 'image/png' }));
    }
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('animatediff-web', VERSION);
      r.onupgradeneeded = () => r.result.createObjectStore('history', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('history', 'readwrite');
      tx.objectStore('history').put({
        id: 'e2e-1', createdAt: Date.now(), models: 'test frames', width: W, height: H, fps: 10, elapsedMs: 1234, frames,
        settings: { prompt: 'A Test: moving square!', negativePrompt: '', seed: 4242, frames: FRAMES, width: W, height: H, steps: 2, guidance: 1, scheduler: 'ddim' },
      });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }, { W, H, FRAMES, VERSION: HISTORY_DB_VERSION });
}

async function download(page: Page, button: string): Promise<{ name: string; bytes: Buffer }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('group', { name: 'Export' }).getByRole('button', { name: button, exact: true }).click()]);
  return { name: dl.suggestedFilename(), bytes: readFileSync((await dl.path())!) };
}

test.beforeEach(async ({ page }) => {
  await page.goto('/');
  await seedHistory(page);
  await page.reload();
  await page.getByRole('button', { name: 'Open "A Test: moving square!" (seed 4242)' }).click();
  await expect(page.locator('canvas')).toHaveAttribute('data-showing', 'result');
});

test('a history entry re-opens with its frames and settings', async ({ page }) => {
  await expect(page.getByLabel('Seed', { exact: true })).toHaveValue('4242');
  await expect(page.getByLabel('Prompt', { exact: true })).toHaveValue('A Test: moving square!');
  await expect(page.getByLabel('New random seed each run')).not.toBeChecked();
  await showFrame(page, 0);
  const a = await canvasPixels(page);
  await showFrame(page, 3);
  const b = await canvasPixels(page);
  expect([a.width, a.height]).toEqual([W, H]);
  expect(distinctColours(a.data)).toBeGreaterThan(100);
  expect(meanAbsDiff(a.data, b.data)).toBeGreaterThan(5);
});

test('GIF export has every frame at the right size, named from prompt and seed', async ({ page }) => {
  const { name, bytes } = await download(page, 'GIF');
  expect(name).toBe('a-test-moving-square-seed4242.gif');
  const gif = new GifReader(new Uint8Array(bytes));
  expect(gif.numFrames()).toBe(FRAMES);
  expect([gif.width, gif.height]).toEqual([W, H]);
  expect(gif.loopCount()).toBe(0); // loops forever
  expect(gif.frameInfo(0).delay).toBe(10); // 10 fps = 10 centiseconds
  // The square of frame f sits at x = 8 + 12 f: check it is white in the decoded GIF and not in frame 0.
  const px = new Uint8Array(W * H * 4);
  gif.decodeAndBlitFrameRGBA(3, px);
  const at = (x: number, y: number) => px[(y * W + x) * 4] + px[(y * W + x) * 4 + 1] + px[(y * W + x) * 4 + 2];
  expect(at(8 + 3 * 12 + 8, 28)).toBeGreaterThan(700);
  gif.decodeAndBlitFrameRGBA(0, px);
  expect(at(8 + 3 * 12 + 8, 28)).toBeLessThan(600);
  // "Saved …" belongs to this animation: opening another result (here the same entry again) clears it.
  const saved = page.getByText('Saved a-test-moving-square-seed4242.gif');
  await expect(saved).toBeVisible();
  await page.getByRole('button', { name: 'Open "A Test: moving square!" (seed 4242)' }).click();
  await expect(saved).toHaveCount(0);
  // The play button says what it does ("Play"/"Pause") and is not also a pressed toggle.
  await expect(page.getByRole('group', { name: 'Playback' }).getByRole('button', { name: /^(Play|Pause)$/ })).not.toHaveAttribute('aria-pressed');
});

test('PNG sprite sheet and single-frame PNG have the right sizes', async ({ page }) => {
  const sheet = await download(page, 'PNG sprite sheet');
  expect(sheet.name).toBe('a-test-moving-square-seed4242-sprite.png');
  const size = (b: Buffer) => [b.readUInt32BE(16), b.readUInt32BE(20)];
  expect(sheet.bytes.subarray(1, 4).toString()).toBe('PNG');
  expect(size(sheet.bytes)).toEqual([3 * W, 2 * H]); // 6 frames → 3 × 2 grid
  await showFrame(page, 2);
  const frame = await download(page, 'Current frame PNG');
  expect(frame.name).toBe('a-test-moving-square-seed4242-frame03.png');
  expect(size(frame.bytes)).toEqual([W, H]);
});

test('video export through WebCodecs where the browser can encode', async ({ page }) => {
  const group = page.getByRole('group', { name: 'Export' });
  const mp4 = group.getByRole('button', { name: 'MP4', exact: true });
  const webm = group.getByRole('button', { name: 'WebM', exact: true });
  await expect(mp4.or(webm).first()).toBeVisible();
  let checked = 0;
  if (await webm.isEnabled()) {
    const { name, bytes } = await download(page, 'WebM');
    expect(name).toBe('a-test-moving-square-seed4242.webm');
    expect(bytes.readUInt32BE(0)).toBe(0x1a45dfa3); // EBML magic
    checked++;
  }
  if (await mp4.isEnabled()) {
    const { name, bytes } = await download(page, 'MP4');
    expect(name).toBe('a-test-moving-square-seed4242.mp4');
    expect(bytes.subarray(4, 8).toString()).toBe('ftyp');
    checked++;
  }
  // Debian Chromium encodes VP8/VP9/AV1/H.264 (research notes): at least one container must work here.
  expect(checked).toBeGreaterThan(0);
});
