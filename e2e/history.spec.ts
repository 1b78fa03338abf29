// History records are checked on read (issue 10 #3): a malformed record, left by an older version or a broken write,
// is repaired or skipped, never blanks the app; the DB upgrade from schema version 1 repairs or drops old records.
import { expect, type Page, test } from '@playwright/test';
import { HISTORY_DB_VERSION } from '../app/src/history';

/** Writes raw records into the history store at schema `version` (creating the store as version 1 did). */
async function putRecords(page: Page, version: number, good: number): Promise<void> {
  await page.evaluate(async ({ version, good }) => {
    const c = new OffscreenCanvas(8, 8);
    c.getContext('2d')!.fillRect(0, 0, 8, 8);
    const png = await c.convertToBlob({ type: 'image/png' });
    const settings = { prompt: 'a good record', negativePrompt: '', seed: 7, frames: 1, width: 8, height: 8, steps: 1, guidance: 1, scheduler: 'ddim' };
    const records = [
      ...Array.from({ length: good }, (_, i) => ({ id: `good-${i}`, createdAt: Date.now() - i, settings: { ...settings, prompt: `good record ${i}` }, models: 'm', width: 8, height: 8, fps: 8, elapsedMs: 1, frames: [png] })),
      { id: 'no-settings', createdAt: Date.now(), frames: [png] },
      { id: 'bad-frames', createdAt: Date.now(), settings, frames: 'not a list' },
      { id: 'bad-prompt', createdAt: Date.now(), settings: { ...settings, prompt: 42 }, frames: [png] },
      // Repairable: no model label, fps or time.
      { id: 'repairable', createdAt: Date.now() - 100, settings: { ...settings, prompt: 'repaired record' }, frames: [png] },
    ];
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('animatediff-web', version);
      r.onupgradeneeded = () => {
        if (!r.result.objectStoreNames.contains('history')) r.result.createObjectStore('history', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('history', 'readwrite');
      for (const rec of records) tx.objectStore('history').put(rec);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }, { version, good });
}

const storedIds = (page: Page) => page.evaluate(() => new Promise<string[]>((resolve, reject) => {
  const r = indexedDB.open('animatediff-web');
  r.onsuccess = () => {
    const g = r.result.transaction('history').objectStore('history').getAllKeys();
    g.onsuccess = () => { resolve((g.result as string[]).sort()); r.result.close(); };
    g.onerror = () => reject(g.error);
  };
  r.onerror = () => reject(r.error);
}));

test('malformed history records from schema version 1 are repaired or dropped by the upgrade; the app stays up', async ({ page }) => {
  await page.goto('/favicon.svg'); // the app's origin, before the app has opened its database
  await putRecords(page, 1, 1);
  await page.goto('/');
  const history = page.getByRole('region', { name: 'History' });
  await expect(history.getByRole('button', { name: 'Open "good record 0" (seed 7)' })).toBeVisible();
  await expect(history.getByRole('button', { name: 'Open "repaired record" (seed 7)' })).toBeVisible();
  await expect(history.getByRole('listitem')).toHaveCount(2);
  await expect(page.getByRole('button', { name: 'Generate' })).toBeVisible();
  expect(await storedIds(page)).toEqual(['good-0', 'repairable']);
  // The repaired record opens, with neutral values for what it lacked.
  await history.getByRole('button', { name: 'Open "repaired record" (seed 7)' }).click();
  await expect(page.locator('.result-info')).toContainText('unknown models');
});

test('malformed records written at the current schema version are skipped on read', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('region', { name: 'History' })).toBeVisible();
  await putRecords(page, HISTORY_DB_VERSION, 2);
  await page.reload();
  const history = page.getByRole('region', { name: 'History' });
  await expect(history.getByRole('listitem')).toHaveCount(3); // two good ones and the repairable one
  await expect(page.getByLabel('Prompt', { exact: true })).toBeEditable();
  await expect(page.getByRole('alert')).toHaveCount(0);
});
