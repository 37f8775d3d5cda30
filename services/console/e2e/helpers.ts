import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { out } from './servers';

/** A full-page screenshot kept in test-output/console/ (every run, not only on failure). */
export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

/** No serious or critical accessibility violation on the page as it is now (axe-core, WCAG 2.1 AA). */
export async function expectAccessible(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `accessibility of ${what}`).toEqual([]);
}

/** A real drag-and-drop: a DataTransfer holding the files, dispatched on the drop zone. */
export async function dropFiles(page: Page, testId: string, files: string[]) {
  const payload = files.map((f) => ({ name: path.basename(f), b64: fs.readFileSync(f).toString('base64') }));
  const dt = await page.evaluateHandle((items) => {
    const t = new DataTransfer();
    for (const { name, b64 } of items) {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      t.items.add(new File([bytes], name, { type: 'image/jpeg' }));
    }
    return t;
  }, payload);
  const zone = page.getByTestId(testId);
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
}

/** The picture has loaded (not only its element). */
export async function expectImageShown(page: Page, selector: string) {
  await expect
    .poll(() => page.locator(selector).first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 30_000 })
    .toBe(true);
}

/** One REST call to the server at `base` that must succeed; its JSON answer (null for a 204). */
export async function api(base: string, method: string, url: string, body?: FormData | object): Promise<any> {
  const init: RequestInit = { method };
  if (body instanceof FormData) init.body = body;
  else if (body) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const res = await fetch(`${base}${url}`, init);
  expect(res.ok, `${method} ${url}: ${res.status}`).toBe(true);
  return res.status === 204 ? null : res.json();
}
