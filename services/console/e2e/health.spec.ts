// The engineer's watch over a product, on a server of its own with a short drift window: a shifted stream
// of good parts raises the drift banner, a wrong-product golden sample is flagged by name, and an ignore
// mask drawn over a golden sample silences a defect inside it. Console errors 0, every page scanned by axe.
import { expect, type Page, test } from '@playwright/test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectAccessible, expectImageShown, shot } from './helpers';
import { repo, type Server, startServer, stopServer, tile } from './servers';

const screw = path.join(tile, '..', '..', 'bsdata', 'ball_screw');
const trainGood = (root: string) =>
  fs
    .readdirSync(path.join(root, 'train', 'good'))
    .sort()
    .map((f) => path.join(root, 'train', 'good', f));
const MASK = { x: 0.1, y: 0.3, width: 0.4, height: 0.4 }; // around the synthetic defect at (0.3, 0.5)

test.describe.configure({ mode: 'serial' });

let server: Server;
let page: Page;
let images: string;
const errors: string[] = [];

/** Shifted good parts (brighter, blurred: light and focus changed) and one good part with a synthetic defect. */
function makeImages(dir: string): Promise<void> {
  const script = `
import sys, cv2, numpy as np
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
goods = sorted((src / "test" / "good").iterdir())[:10]
for i, p in enumerate(goods):
    img = cv2.imread(str(p))
    cv2.imwrite(str(out / f"shifted-{i}.png"), cv2.GaussianBlur(np.clip(img.astype(np.int32) * 1.6 + 40, 0, 255).astype(np.uint8), (0, 0), 3))
img = cv2.imread(str(goods[0])); h, w = img.shape[:2]; side = max(8, min(h, w) // 8)
x0, y0 = int(0.3 * w) - side // 2, int(0.5 * h) - side // 2
img[y0:y0 + side, x0:x0 + side] = 0
img[y0 + side // 2 - 1:y0 + side // 2 + 1, x0:x0 + side] = 255
img[y0:y0 + side, x0 + side // 2 - 1:x0 + side // 2 + 1] = 255
cv2.imwrite(str(out / "damaged.png"), img)
`;
  const python = path.resolve(repo, process.env.GOLDENSHOT_PYTHON || '.venv/bin/python');
  return new Promise((resolve, reject) => {
    const p = spawn(python, ['-c', script, tile, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`making the test images failed: ${stderr}`))));
  });
}

async function api(route: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${server.base}${route}`, init);
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${route}: ${res.status} ${await res.text()}`);
  return res;
}

const form = (field: string, files: string[]) => {
  const fd = new FormData();
  for (const f of files) fd.append(field, new Blob([fs.readFileSync(f)]), path.basename(f));
  return fd;
};

/** A product with these golden samples and its fingerprint built. */
async function productWith(name: string, goldens: string[]) {
  await api('/v1/products', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
  await api(`/v1/products/${name}/golden`, { method: 'POST', body: form('files', goldens) });
  const job = await (await api(`/v1/products/${name}/fingerprints`, { method: 'POST' })).json();
  await expect.poll(async () => (await (await api(`/v1/jobs/${job.id}`)).json()).state, { timeout: 180_000 }).toBe('succeeded');
}

const inspect = async (name: string, file: string) =>
  (await api(`/v1/products/${name}/inspect`, { method: 'POST', body: form('file', [file]) })).json();

test.beforeAll(async ({ browser }) => {
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'goldenshot-e2e-health-'));
  await makeImages(images);
  Object.assign(process.env, { GOLDENSHOT_SERVER_DRIFT_WINDOW: '10', GOLDENSHOT_SERVER_DRIFT_MIN_INSPECTIONS: '5', GOLDENSHOT_SERVER_DRIFT_EVERY: '1' });
  server = await startServer('health');
  page = await (await browser.newContext({ baseURL: server.base })).newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
});

test.afterAll(async () => {
  await page?.context().close();
  if (server) await stopServer(server);
  fs.rmSync(images, { recursive: true, force: true });
  expect(errors, 'console errors').toEqual([]);
});

test('a shifted stream of good parts raises the drift banner', async () => {
  await productWith('line', trainGood(tile).slice(6, 12));
  await page.goto('/setup/line');
  await expect(page.getByTestId('product-title')).toHaveText('line');
  await expect(page.getByTestId('drift-banner')).toHaveCount(0);
  for (let i = 0; i < 10; i++) await inspect('line', path.join(images, `shifted-${i}.png`));
  await page.reload();
  const banner = page.getByTestId('drift-banner');
  await expect(banner).toContainText('Scores of good parts have moved: camera, light or supplier changed?');
  await expect(banner).toContainText('the last 10 inspections');
  await shot(page, 'health-01-drift-banner');
  await expectAccessible(page, 'the product with its drift banner');
});

test('a golden sample of another product is flagged by name', async () => {
  const wrong = trainGood(screw)[0];
  await productWith('mixed', [...trainGood(tile).slice(0, 3), wrong]);
  await page.goto('/setup/mixed');
  const thumb = page.locator('[data-testid=golden-thumbs] li', { hasText: path.basename(wrong) });
  await expect(thumb.getByTestId('sample-health')).toContainText('unlike the others');
  await expect(page.locator('[data-testid=golden-thumbs] li', { hasText: 'unlike the others' })).toHaveCount(1);
  await expect(page.getByTestId('version-outliers')).toContainText(path.basename(wrong));
  await expect(page.getByTestId('version-samples').locator('tbody tr')).toHaveCount(4);
  await expectImageShown(page, '[data-testid=golden-thumbs] li:nth-child(4) img');
  await shot(page, 'health-02-golden-outlier');
  await expectAccessible(page, 'golden sample health');
});

const inMask = (region: { bbox: number[] }, width: number, height: number) => {
  const [x, y, w, h] = region.bbox;
  const cx = (x + w / 2) / width;
  const cy = (y + h / 2) / height;
  return cx >= MASK.x && cx <= MASK.x + MASK.width && cy >= MASK.y && cy <= MASK.y + MASK.height;
};

test('an ignore mask drawn over a golden sample silences a defect inside it', async () => {
  await productWith('tile', trainGood(tile).slice(0, 6));
  const damaged = path.join(images, 'damaged.png');
  const before = await inspect('tile', damaged);
  expect(before.decision).toBe('ANOMALOUS');
  expect(before.regions.some((r: { bbox: number[] }) => inMask(r, before.width, before.height))).toBe(true);

  await page.goto('/setup/tile');
  await expectImageShown(page, '[data-testid=mask-canvas] img');
  const surface = page.getByTestId('mask-surface');
  await surface.scrollIntoViewIfNeeded();
  const box = (await surface.boundingBox())!;
  expect(box.y + (MASK.y + MASK.height) * box.height, 'the mask area on screen').toBeLessThan(page.viewportSize()!.height);
  await page.mouse.move(box.x + MASK.x * box.width, box.y + MASK.y * box.height);
  await page.mouse.down();
  await page.mouse.move(box.x + (MASK.x + MASK.width) * box.width, box.y + (MASK.y + MASK.height) * box.height, { steps: 8 });
  await page.mouse.up();
  await expect(page.getByTestId('mask-shapes').getByRole('listitem')).toHaveCount(1);
  await page.getByRole('button', { name: 'Save mask' }).click();
  await expect(page.getByText(/Ignore mask saved: 1 region not judged/)).toBeVisible();
  await shot(page, 'health-03-ignore-mask');
  await expectAccessible(page, 'the ignore mask editor');

  const stored = await (await api('/v1/products/tile/ignore-mask')).json();
  expect(stored.shapes).toHaveLength(1);
  expect(stored.shapes[0].x).toBeCloseTo(MASK.x, 1);
  const after = await inspect('tile', damaged);
  expect(after.score).toBeLessThan(before.score);
  expect(after.regions.some((r: { bbox: number[] }) => inMask(r, after.width, after.height))).toBe(false);

  await page.goto(`/inspect/tile/${after.id}`);
  await expectImageShown(page, '[data-testid=inspection-viewer] [data-testid=heatmap]');
  await shot(page, 'health-04-inspection-with-mask');
  await expectAccessible(page, 'an inspection scored with the mask');
});
