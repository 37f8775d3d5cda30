// The engineer's loop against the real server, in order on one page: label a result, tune the threshold
// with the slider on the labelled history and save it as a new version, replay that version on the stored
// inspections and activate it, and export the inspections as CSV. Each panel is scanned for accessibility
// and shot; the page may log no error. The product, its golden samples, its fingerprint and the
// inspections are made through the REST API first: other specs drive those screens.
import { expect, type Page, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { api as callApi, expectAccessible, shot } from './helpers';
import { tile } from './servers';

const PRODUCT = 'loop-tile';
const pick = (dir: string, n: number) =>
  fs
    .readdirSync(path.join(tile, dir))
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .slice(0, n)
    .map((f) => path.join(tile, dir, f));
const GOLDEN = pick('train/good', 8);
const PARTS = [...pick('test/good', 2), path.join(tile, 'test', 'break', 'exp5_num_26212.jpg'), path.join(tile, 'test', 'fray', 'exp6_num_258703.jpg')];

interface Inspected {
  id: string;
  score: number;
  decision: string;
  threshold: number;
}

test.describe.configure({ mode: 'serial' });

let page: Page;
const errors: string[] = [];
const base = () => process.env.E2E_BASE!;
let results: Inspected[] = [];
let falseAlarm: Inspected; // the lower-scoring flagged tile, labelled a false alarm in the console
let tuned = 0; // the threshold saved

const api = (method: string, url: string, body?: FormData | object) => callApi(base(), method, url, body);

const form = (field: string, files: string[]) => {
  const fd = new FormData();
  for (const f of files) fd.append(field, new Blob([fs.readFileSync(f)], { type: 'image/jpeg' }), path.basename(f));
  return fd;
};

test.beforeAll(async ({ browser }) => {
  await api('POST', '/v1/products', { name: PRODUCT, description: 'the engineer loop' });
  await api('POST', `/v1/products/${PRODUCT}/golden`, form('files', GOLDEN));
  let job = await api('POST', `/v1/products/${PRODUCT}/fingerprints`, {});
  while (job.state !== 'succeeded') {
    expect(job.state, JSON.stringify(job.error)).not.toBe('failed');
    await new Promise((r) => setTimeout(r, 500));
    job = await api('GET', `/v1/jobs/${job.id}`);
  }
  for (const part of PARTS) results.push(await api('POST', `/v1/products/${PRODUCT}/inspect`, form('file', [part])));
  const flagged = results.filter((r) => r.decision === 'ANOMALOUS').sort((a, b) => a.score - b.score);
  expect(flagged.length, 'the broken and the frayed tile are flagged').toBe(2);
  falseAlarm = flagged[0];
  tuned = (flagged[0].score + flagged[1].score) / 2; // passes the false alarm, still flags the other
  page = await (await browser.newContext({ baseURL: base(), acceptDownloads: true })).newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
});

test.afterAll(async () => {
  await page.context().close();
  expect(errors, 'errors in the page and its console').toEqual([]);
});

test('label a flagged result as a false alarm, with a note', async () => {
  await page.goto(`/inspect/${PRODUCT}/${falseAlarm.id}`);
  const panel = page.getByRole('region', { name: 'Label', exact: true });
  await expect(panel.getByRole('radio')).toHaveCount(2); // a flagged part: confirmed defect or false alarm
  await panel.getByLabel('False alarm').check();
  await panel.getByLabel('Note').fill('glare from the lamp');
  await panel.getByRole('button', { name: 'Save label' }).click();
  await expect(panel.getByTestId('label-current')).toContainText('false alarm by local');
  await expect(panel.getByTestId('label-current')).toContainText('glare from the lamp');
  await shot(page, 'loop-01-label');
  await expectAccessible(page, 'the label panel');
});

test('tune the threshold with the slider and a decimal comma, and save it as a new version', async () => {
  await page.goto(`/setup/${PRODUCT}`);
  const panel = page.getByTestId('tuning');
  const outcome = panel.getByTestId('tune-outcome');
  await expect(outcome).toContainText('1 false alarm and 0 misses');
  const input = panel.getByTestId('tune-input');
  const before = await input.inputValue();
  const slider = panel.getByRole('slider', { name: 'Threshold' });
  await slider.focus();
  await slider.press('End'); // the slider's top: past every score, so nothing labelled is flagged
  await expect(input).not.toHaveValue(before);
  await expect(outcome).toContainText('0 false alarms');
  await expect(panel.getByLabel(/Save anyway/)).toBeVisible();
  await input.fill(tuned.toFixed(3).replace('.', ','));
  await expect(outcome).toContainText('0 false alarms and 0 misses');
  await expect(panel.getByLabel(/Save anyway/)).toHaveCount(0); // below the highest score seen
  await panel.getByLabel('Why').fill('glare false alarms');
  await shot(page, 'loop-02-tuning');
  await expectAccessible(page, 'the threshold tuning panel');
  await panel.getByRole('button', { name: 'Save as a new version' }).click();
  await expect(page).toHaveURL(new RegExp(`/setup/${PRODUCT}/versions/2$`));
  const versions = page.getByTestId('versions-table');
  await expect(versions.locator('tbody tr')).toHaveCount(2);
  await expect(versions).toContainText('threshold tuned from');
  await expect(versions).toContainText('glare false alarms');
});

test('replay the new version on the stored inspections, then activate it', async () => {
  const panel = page.getByTestId('replay');
  await expect(panel.getByRole('heading')).toHaveText('Replay v2 before activating it');
  await panel.getByRole('button', { name: 'Replay' }).click();
  await expect(panel.getByTestId('replay-summary')).toContainText('v2 would change 1 of 4 decisions', { timeout: 60_000 });
  await expect(panel.getByTestId('replay-summary')).toContainText('fixes 1 false alarm');
  await expect(panel.getByRole('table')).toContainText('False alarm');
  await shot(page, 'loop-03-replay');
  await expectAccessible(page, 'the replay panel');
  await panel.getByRole('button', { name: 'Activate v2' }).click();
  const dialog = page.getByRole('dialog');
  await expectAccessible(page, 'the activation dialog');
  await dialog.getByRole('button', { name: 'Activate v2' }).click();
  await expect(panel.getByText('v2 is active')).toBeVisible();
  await expect(page.getByTestId('status-version')).toHaveText('v2');
  const history = page.getByTestId('activation-history');
  await expect(history.locator('tbody tr').first()).toContainText('v2');
  await expect(history.locator('tbody tr').first()).toContainText('v1');
  await expect(history.locator('tbody tr').first()).toContainText('local');
  await shot(page, 'loop-04-activated');
});

test('export the inspections as a CSV file', async () => {
  await page.goto(`/analytics/${PRODUCT}`);
  const panel = page.getByRole('region', { name: 'Export', exact: true });
  await expect(panel).toBeVisible();
  await expectAccessible(page, 'analytics with the export panel');
  const download = page.waitForEvent('download');
  await panel.getByTestId('export').click();
  const file = await download;
  expect(file.suggestedFilename()).toBe(`${PRODUCT}-inspections.csv`);
  const lines = fs.readFileSync((await file.path())!, 'utf8').trim().split(/\r?\n/);
  expect(lines[0]).toBe('id,created_at,filename,version,decision,score,threshold,regions,batch_id,label,note,labelled_by,labelled_at');
  expect(lines).toHaveLength(1 + results.length);
  expect(lines.find((l) => l.startsWith(falseAlarm.id))).toContain('false_alarm,glare from the lamp,local');
  await shot(page, 'loop-05-export');
});
