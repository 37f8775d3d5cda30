// A server that requires an API key (its own, beside the engineer's flow): refused in plain words until
// the key is set in Settings; pictures then come through fetch with the key, shown from blob: URLs.
import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { expectAccessible, expectImageShown, shot } from './helpers';
import { cli, type Server, startServer, stopServer, tile } from './servers';

let server: Server;
let key = '';

test.beforeAll(async () => {
  server = await startServer('keyed', ['--require-api-key'], async (dir) => {
    key = (await cli(['keys', 'create', 'factory-a', '--data-dir', dir, '--label', 'e2e'])).trim();
  });
});

test.afterAll(async () => {
  if (server) await stopServer(server);
});

test('refused in plain words, then works with the key from Settings', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  expect(key).toMatch(/^gs_/);
  await page.goto(`${server.base}/setup`);
  await expect(page.getByRole('alert')).toContainText('refused the API key');
  await expectAccessible(page, 'the refusal');

  await page.getByRole('button', { name: 'Settings' }).click();
  await expectAccessible(page, 'the Settings popover');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { name: 'Create a product' })).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0);
  // Escape closes the popover and gives focus back to its button
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeHidden();
  await expect(page.getByRole('button', { name: 'Settings · key set' })).toBeFocused();

  await page.getByLabel(/^Name/).fill('keyed-tile');
  await page.getByRole('button', { name: 'Create product' }).click();
  await expect(page.getByTestId('product-title')).toHaveText('keyed-tile');
  const first = fs.readdirSync(path.join(tile, 'train', 'good')).sort()[0];
  await page.getByTestId('golden-drop-input').setInputFiles([path.join(tile, 'train', 'good', first)]);
  // <img> cannot send X-API-Key: the console fetches the picture with the header and shows it
  await expectImageShown(page, '[data-testid=golden-thumbs] img');
  expect(await page.locator('[data-testid=golden-thumbs] img').getAttribute('src')).toMatch(/^blob:/);
  await shot(page, '11-api-key');
  expect(errors).toEqual([]);
});
