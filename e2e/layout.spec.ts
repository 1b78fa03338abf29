// Layout and accessibility of the page (issue 10 #9, #10, #12, #13): a phone viewport with no overlapping panels and a
// short header, one scrollbar, the adapter advice at the top, axe-core with no serious or critical violations, and the
// model choice remembered across reloads.
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, test } from '@playwright/test';

async function ready(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.locator('.adapter')).toContainText('swiftshader');
}

async function seriousViolations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze();
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

test.describe('phone, 390×844', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('panels do not overlap, the header stays short, nothing scrolls sideways, no serious axe violations', async ({ page }) => {
    await ready(page);
    const form = (await page.getByRole('form', { name: 'Generation settings' }).boundingBox())!;
    const output = (await page.getByRole('region', { name: 'Output' }).boundingBox())!;
    // Stacked: the output starts below the end of the settings (scrolled or not).
    expect(output.y).toBeGreaterThanOrEqual(form.y + form.height);
    for (const y of [0, 1200, 2400]) {
      await page.evaluate((y) => window.scrollTo(0, y), y);
      const f = (await page.getByRole('form', { name: 'Generation settings' }).boundingBox())!;
      const o = (await page.getByRole('region', { name: 'Output' }).boundingBox())!;
      expect(o.y, `at scroll ${y}`).toBeGreaterThanOrEqual(f.y + f.height);
    }
    const tagline = (await page.locator('.tagline').boundingBox())!;
    const lineHeight = await page.locator('.tagline').evaluate((e) => parseFloat(getComputedStyle(e).lineHeight));
    expect(tagline.height).toBeLessThanOrEqual(2 * lineHeight + 1);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await seriousViolations(page)).toEqual([]);
  });
});

test('desktop: one scrollbar, the software-adapter advice at the top, no serious axe violations, the prompt named once', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await ready(page);
  const notes = page.getByRole('region', { name: 'Compatibility' });
  await expect(notes).toContainText('software adapter');
  const box = (await notes.boundingBox())!;
  expect(box.y + Math.min(box.height, 60)).toBeLessThan(800); // visible without scrolling
  // The settings form is not a scrolling panel inside the scrolling page.
  expect(await page.getByRole('form', { name: 'Generation settings' }).evaluate((e) => getComputedStyle(e).overflowY)).toBe('visible');
  // The prompt's group and its field do not both read "Prompt".
  await expect(page.getByRole('group', { name: 'Prompt', exact: true })).toHaveCount(0);
  await expect(page.getByRole('textbox', { name: 'Prompt', exact: true })).toHaveCount(1);
  expect(await seriousViolations(page)).toEqual([]);
});

test('the model choice is remembered across a reload, and a malformed remembered value is ignored', async ({ page }) => {
  await ready(page);
  await page.getByLabel('Base model', { exact: true }).selectOption({ label: 'Tiny test model (random weights)' });
  await expect(page.getByLabel('Motion module', { exact: true })).toHaveValue('preset:tiny');
  await page.reload();
  await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('preset:tiny');
  await expect(page.getByLabel('Motion module', { exact: true })).toHaveValue('preset:tiny');
  await expect(page.getByLabel('Width', { exact: true })).toHaveValue('64'); // the preset's size came with it
  await page.evaluate(() => localStorage.setItem('animatediff-web.models', '{"v":1,"base":{"mode":"preset","presetId":"no-such"},"motion":42}'));
  await page.reload();
  await expect(page.getByLabel('Base model', { exact: true })).toHaveValue('preset:sd15');
  await expect(page.getByRole('button', { name: 'Generate' })).toBeVisible();
});
