// What a new user tripped over, against the real server: the top bar at phone width (390 px), the
// Settings popover closing, Inspect and Analytics on a product without a fingerprint, and a results
// table that pages past 25 rows with the server's cursor (times to the second, full timestamp on hover).
// A server of its own, so the engineer's flow beside it sees only its own products.
import { expect, type Page, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { api as callApi, expectAccessible, shot } from './helpers';
import { type Server, startServer, stopServer, tile } from './servers';

let server: Server;
const base = () => server.base;
const EMPTY = 'newuser-empty';
const PAGED = 'newuser-paged';

const api = (method: string, url: string, body?: FormData | object) => callApi(base(), method, url, body);

const image = (dir: string, i: number) => {
  const folder = path.join(tile, ...dir.split('/'));
  const name = fs.readdirSync(folder).filter((f) => /\.jpe?g$/i.test(f)).sort()[i];
  return new File([fs.readFileSync(path.join(folder, name))], name, { type: 'image/jpeg' });
};

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return errors;
}

test.beforeAll(async () => {
  server = await startServer('newuser');
  await api('POST', '/v1/products', { name: EMPTY, description: 'no fingerprint yet' });
});

test.afterAll(async () => {
  if (server) await stopServer(server);
});

test('at 390 px the top bar fits the screen and the Settings popover closes', async ({ browser }) => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, baseURL: base() });
  const page = await phone.newPage();
  const errors = watchErrors(page);
  await page.goto(`/setup/${EMPTY}`);
  await expect(page.getByTestId('product-title')).toHaveText(EMPTY);
  const bar = page.locator('header.topbar');
  const fits = await bar.evaluate((el) => ({ bar: el.scrollWidth - el.clientWidth, page: document.documentElement.scrollWidth - window.innerWidth }));
  expect(fits, 'the top bar and the page fit 390 px').toEqual({ bar: 0, page: 0 });
  for (const name of ['Product setup', 'Live inspection', 'Analytics', 'Settings']) {
    const box = (await bar.getByRole(name === 'Settings' ? 'button' : 'link', { name }).boundingBox())!;
    expect(box.x >= 0 && box.x + box.width <= 390, `${name} within the screen`).toBe(true);
  }
  await shot(page, '20-newuser-topbar-390');
  await expectAccessible(page, 'the top bar at 390 px');

  // the popover closes on Escape and on a tap outside it
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeHidden();
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeVisible();
  await page.getByTestId('product-title').click();
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeHidden();
  await phone.close();
  expect(errors).toEqual([]);
});

test('Inspect and Analytics on a product without a fingerprint lead to its setup', async ({ page }) => {
  const errors = watchErrors(page);
  for (const [where, shotName] of [
    [`/inspect/${EMPTY}`, '21-newuser-inspect-empty'],
    [`/analytics/${EMPTY}`, '22-newuser-analytics-empty'],
  ]) {
    await page.goto(`${base()}${where}`);
    await expect(page.getByTestId('no-fingerprint')).toContainText(`${EMPTY} has no fingerprint yet`);
    await expectAccessible(page, `${where} without a fingerprint`);
    await shot(page, shotName);
  }
  await page.getByRole('link', { name: `Set up ${EMPTY}: golden samples and fingerprint` }).click();
  await expect(page).toHaveURL(new RegExp(`/setup/${EMPTY}$`));
  await expect(page.getByTestId('product-title')).toHaveText(EMPTY);
  expect(errors).toEqual([]);
});

test('the results table pages past 25 inspections; times carry seconds and the full timestamp', async ({ page }) => {
  const errors = watchErrors(page);
  await api('POST', '/v1/products', { name: PAGED });
  const golden = new FormData();
  for (const i of [0, 1, 2]) golden.append('files', image('train/good', i));
  await api('POST', `/v1/products/${PAGED}/golden`, golden);
  let job = await api('POST', `/v1/products/${PAGED}/fingerprints`, {});
  while (job.state !== 'succeeded') {
    expect(job.state, JSON.stringify(job.error)).not.toBe('failed');
    await new Promise((r) => setTimeout(r, 300));
    job = await api('GET', `/v1/jobs/${job.id}`);
  }
  const batch = new FormData();
  for (let i = 0; i < 27; i++) batch.append('files', image('test/good', i % 10));
  job = await api('POST', `/v1/products/${PAGED}/batches`, batch);
  while (job.state !== 'succeeded') {
    expect(job.state, JSON.stringify(job.error)).not.toBe('failed');
    await new Promise((r) => setTimeout(r, 300));
    job = await api('GET', `/v1/jobs/${job.id}`);
  }

  await page.goto(`${base()}/inspect/${PAGED}`);
  const rows = page.locator('[data-testid=results-table] tbody tr');
  await expect(rows).toHaveCount(25);
  await expect(page.getByTestId('pager-range')).toHaveText('newest 1–25');
  const time = rows.first().locator('time');
  await expect(time).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  expect(await time.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC[+-]\d\d:\d\d \(.+Z\)$/);
  await page.getByRole('button', { name: 'Older →' }).click();
  await expect(rows).toHaveCount(2);
  await expect(page.getByTestId('pager-range')).toHaveText('newest 26–27');
  await expect(page.getByRole('button', { name: 'Older →' })).toBeDisabled();
  await shot(page, '23-newuser-results-page-2');
  await expectAccessible(page, 'the second page of results');
  await page.getByRole('button', { name: '← Newer' }).click();
  await expect(rows).toHaveCount(25);
  expect(errors).toEqual([]);
});
