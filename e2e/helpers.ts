import { expect, type Page } from '@playwright/test';

/** Chooses the tiny random-weight model (base + motion) and the small, fast settings the e2e suite runs with. */
export async function useTinyModel(page: Page, opts: { frames?: number; steps?: number; size?: number } = {}): Promise<void> {
  await page.getByLabel('Base model', { exact: true }).selectOption({ label: 'Tiny test model (random weights)' });
  await expect(page.getByLabel('Motion module', { exact: true })).toHaveValue('preset:tiny');
  const size = String(opts.size ?? 64);
  await page.getByLabel('Width', { exact: true }).fill(size);
  await page.getByLabel('Height', { exact: true }).fill(size);
  await page.getByLabel('Frames', { exact: true }).fill(String(opts.frames ?? 8));
  await page.getByLabel('Steps', { exact: true }).fill(String(opts.steps ?? 3));
}

/** The RGBA pixels the animation canvas shows now, and which frame it is. */
export async function canvasPixels(page: Page): Promise<{ width: number; height: number; frame: string; data: number[] }> {
  return page.locator('canvas').evaluate((c: HTMLCanvasElement) => {
    const ctx = c.getContext('2d')!;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    return { width: c.width, height: c.height, frame: c.dataset.frame ?? '', data: Array.from(d) };
  });
}

/** Shows frame `i` (0-based) with the playback scrubber (pauses playback). */
export async function showFrame(page: Page, i: number): Promise<void> {
  // Stop playback first: filling the slider with the value it already shows fires no change event, so playback
  // would go on and the canvas could move to the next frame before the test reads its pixels.
  const pause = page.getByRole('group', { name: 'Playback' }).getByRole('button', { name: 'Pause', exact: true });
  if (await pause.isVisible() && await pause.isEnabled()) await pause.click();
  await page.getByLabel('Frame', { exact: true }).fill(String(i));
  await expect(page.locator('canvas')).toHaveAttribute('data-frame', String(i));
}

/** Mean absolute difference of two RGBA buffers (0–255). */
export function meanAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** Distinct RGB colours in an RGBA buffer: a drawn frame of noise has many, an empty canvas one. */
export function distinctColours(d: number[]): number {
  const set = new Set<number>();
  for (let i = 0; i < d.length; i += 4) set.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return set.size;
}
