import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { batchFailures, jobFraction, jobLabel } from '../jobs';
import { fakeApi, golden, imageFile, inspection, job, product, version } from '../test/fakeApi';
import { renderApp } from '../test/renderApp';

const products = (...items: ReturnType<typeof product>[]) =>
  ['GET', /^\/v1\/products$/, () => ({ items })] as [string, RegExp, () => unknown];

describe('job progress', () => {
  it('moves a build forward across its stages and names them', () => {
    const at = (stage: string, done: number, total: number) =>
      job('b', 'running', { progress: { stage, done, total, fraction: total ? done / total : 0 } });
    const fs = [at('loading', 8, 8), at('features', 4, 8), at('coreset', 0, 3277), at('threshold', 1, 1), at('storing', 2, 3)].map(
      (j) => jobFraction(j)!,
    );
    expect(fs.every((f, i) => i === 0 || f > fs[i - 1])).toBe(true);
    expect(jobFraction(job('b', 'succeeded', { progress: { stage: 'done', done: 3, total: 3, fraction: 1 } }))).toBe(1);
    expect(jobLabel(at('features', 4, 8))).toBe('Step 2 of 5: extracting features, image 4 of 8');
    // the words agree with the bar's percentage of the whole build (not "(2 of 3) · 97 %")
    expect(jobLabel(at('storing', 2, 3))).toBe('Step 5 of 5: storing the fingerprint');
    expect(fs[4]).toBeGreaterThan(0.9);
    expect(jobLabel(job('x', 'running', { kind: 'batch', progress: { stage: 'inspecting', done: 1, total: 4 } }))).toBe('Inspecting (1 of 4)');
    expect(jobLabel(job('b', 'queued'))).toBe('Waiting to start…');
    expect(jobFraction(job('x', 'running', { kind: 'batch', progress: { stage: 'inspecting', done: 1, total: 4 } }))).toBe(0.25);
  });

  it("reads a batch's failures from its free-form result", () => {
    const failed = [{ filename: 'a.jpg', error: 'not an image' }, { filename: 'b.jpg', error: { code: 'invalid_image', message: 'truncated' } }];
    expect(batchFailures(job('j', 'succeeded', { kind: 'batch', result: { failed } }))).toEqual([
      { filename: 'a.jpg', error: 'not an image' },
      { filename: 'b.jpg', error: 'truncated' },
    ]);
    expect(batchFailures(job('j', 'succeeded', { kind: 'batch', result: null }))).toEqual([]);
  });
});

describe('Product setup', () => {
  it('checks the name before asking the server and explains a taken name', async () => {
    const { calls } = fakeApi([
      products(),
      ['POST', /^\/v1\/products$/, () => ({ status: 409, body: { error: { code: 'conflict', message: 'exists' } } })],
    ]);
    renderApp('/setup');
    fireEvent.change(await screen.findByLabelText(/^Name/), { target: { value: '-bad' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create product' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/must start with a lowercase letter or digit/);
    expect(calls.filter((c) => c.method === 'POST').length).toBe(0);
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: 'Tile' } });
    expect((screen.getByLabelText(/^Name/) as HTMLInputElement).value).toBe('tile');
    fireEvent.click(screen.getByRole('button', { name: 'Create product' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/A product named "tile" already exists/);
  });

  it('creates a product and opens it', async () => {
    let list: ReturnType<typeof product>[] = [];
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: list })],
      ['POST', /^\/v1\/products$/, () => ((list = [product('tile')]), { status: 201, body: product('tile') })],
      ['GET', /^\/v1\/products\/tile$/, () => product('tile')],
      ['GET', /^\/v1\/products\/tile\/(golden|fingerprints)$/, () => ({ items: [] })],
    ]);
    const { router } = renderApp('/setup');
    fireEvent.change(await screen.findByLabelText(/^Name/), { target: { value: 'tile' } });
    fireEvent.change(screen.getByLabelText('Description'), { target: { value: ' magnetic tile ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create product' }));
    await waitFor(() => expect(router.state.location.pathname).toBe('/setup/tile'));
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ name: 'tile', description: 'magnetic tile' });
    // the new product is in the list
    expect((await screen.findByRole('link', { name: /^tile/ })).getAttribute('href')).toBe('/setup/tile');
    expect(await screen.findByTestId('product-title')).toBeTruthy();
  });

  it('queues photos dropped while an upload runs, sends them after it, and names them if it fails', async () => {
    let samples = [golden('g1')];
    let release!: () => void;
    let gate = new Promise<void>((resolve) => (release = resolve));
    let posts = 0;
    let failFirst = false;
    const sent = (c: { body: unknown }) => (c.body as FormData).getAll('files').map((f) => (f as File).name);
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: [product('tile', { golden_count: samples.length })] })],
      ['GET', /^\/v1\/products\/tile$/, () => product('tile', { golden_count: samples.length })],
      ['GET', /^\/v1\/products\/tile\/golden$/, () => ({ items: samples })],
      ['GET', /^\/v1\/products\/tile\/fingerprints$/, () => ({ items: [] })],
      ['GET', /^\/v1\/limits$/, () => ({ max_golden: 30, max_files: 12, max_file_bytes: 1e8, max_request_bytes: 2e8 })],
      [
        'POST',
        /^\/v1\/products\/tile\/golden$/,
        async (call) => {
          posts += 1;
          if (posts === 1) await gate;
          if (failFirst && posts === 1) return { status: 413, body: { error: { code: 'too_large', message: 'upload too large' } } };
          const items = sent(call).map((n, i) => golden(`p${posts}${i}`, n));
          samples = [...samples, ...items];
          return { status: 201, body: { items, duplicates: [] } };
        },
      ],
    ]);
    const drop = (...names: string[]) =>
      fireEvent.drop(screen.getByTestId('golden-drop'), { dataTransfer: { files: names.map((n) => imageFile(n)) } });
    renderApp('/setup/tile');
    expect((await screen.findByTestId('golden-count')).textContent).toBe('1');
    drop('a.jpg');
    await screen.findByText(/Uploading 1 image/);
    drop('b.jpg', 'c.jpg');
    expect(await screen.findByText('2 more images queued, to upload when this upload has finished.')).toBeTruthy();
    expect(calls.filter((c) => c.method === 'POST').length).toBe(1);
    release();
    await waitFor(() => expect(screen.getByTestId('golden-count').textContent).toBe('4'));
    expect(calls.filter((c) => c.method === 'POST').map(sent)).toEqual([['a.jpg'], ['b.jpg', 'c.jpg']]);
    expect(screen.queryByText(/queued, to upload/)).toBeNull();
    cleanup();

    // the upload fails: the photos dropped meanwhile are named, not sent into the same refusal
    gate = new Promise<void>((resolve) => (release = resolve));
    posts = 0;
    failFirst = true;
    calls.length = 0;
    renderApp('/setup/tile');
    expect((await screen.findByTestId('golden-count')).textContent).toBe('4');
    drop('d.jpg');
    await screen.findByText(/Uploading 1 image/);
    drop('e.jpg');
    await screen.findByText('1 more image queued, to upload when this upload has finished.');
    release();
    expect(await screen.findByText(/the images dropped while it ran were not sent: e\.jpg\./)).toBeTruthy();
    expect(calls.filter((c) => c.method === 'POST').map(sent)).toEqual([['d.jpg']]);
  });

  it('uploads samples, removes one, builds a fingerprint with progress and rolls back', async () => {
    let samples = [golden('g1'), golden('g2')];
    let versions = [version(1)];
    let polls = 0;
    let active = 1;
    const prod = () =>
      product('tile', {
        golden_count: samples.length,
        active_version: active,
        fingerprint: versions.find((v) => v.version === active) ?? null,
      });
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: [prod()] })],
      ['GET', /^\/v1\/products\/tile$/, () => prod()],
      ['GET', /^\/v1\/products\/tile\/golden$/, () => ({ items: samples })],
      ['GET', /^\/v1\/products\/tile\/fingerprints$/, () => ({ items: versions })],
      [
        'POST',
        /^\/v1\/products\/tile\/golden$/,
        () => {
          samples = [...samples, golden('g3', 'new.jpg')];
          return { status: 201, body: { items: [golden('g3', 'new.jpg')], duplicates: ['g1.jpg'] } };
        },
      ],
      [
        'DELETE',
        /^\/v1\/products\/tile\/golden\/g2$/,
        () => {
          samples = samples.filter((g) => g.id !== 'g2');
          return { status: 204 };
        },
      ],
      ['POST', /^\/v1\/products\/tile\/fingerprints$/, () => ({ status: 202, body: job('b1', 'queued') })],
      ['GET', /^\/v1\/limits$/, () => ({ max_golden: 30, max_files: 12, max_file_bytes: 1e8, max_request_bytes: 2e8 })],
      [
        'GET',
        /^\/v1\/jobs\/b1$/,
        () => {
          polls += 1;
          if (polls === 1) return job('b1', 'running', { progress: { stage: 'features', done: 1, total: 2, fraction: 0.5 } });
          versions = [version(2, { golden_count: 2, threshold: 3.1 }), version(1, { active: false })];
          active = 2;
          return job('b1', 'succeeded', { result: { version: 2 } });
        },
      ],
      [
        'POST',
        /^\/v1\/products\/tile\/fingerprints\/1\/activate$/,
        () => {
          active = 1;
          versions = [version(2, { active: false }), version(1)];
          return version(1);
        },
      ],
    ]);
    renderApp('/setup/tile');
    expect((await screen.findByTestId('golden-count')).textContent).toBe('2');
    expect(screen.getByTestId('status-version').textContent).toBe('v1');
    expect(screen.getByAltText('g1.jpg').getAttribute('src')).toBe('/v1/products/tile/golden/g1/image');
    // the stated limit is the server's own (GET /v1/limits), not a number written into the page
    expect(await screen.findByText(/^Up to 30 images per product, 12 per upload;/)).toBeTruthy();

    fireEvent.drop(screen.getByTestId('golden-drop'), { dataTransfer: { files: [imageFile('new.jpg'), imageFile('g1.jpg')] } });
    expect(await screen.findByText(/1 golden sample added\. Already among the samples, skipped: g1\.jpg\./)).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('golden-count').textContent).toBe('3'));
    const upload = calls.find((c) => c.method === 'POST' && c.path.endsWith('/golden'))!;
    expect((upload.body as FormData).getAll('files').length).toBe(2);
    // 3 samples now, v1 was built from 8: the page says the fingerprint is out of date
    expect(screen.getByText(/golden samples changed since v1/)).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Remove g2.jpg' }));
    await waitFor(() => expect(screen.getByTestId('golden-count').textContent).toBe('2'));

    fireEvent.click(screen.getByTestId('generate'));
    expect(await screen.findByText(/Step 2 of 5: extracting features, image 1 of 2 · 38%/)).toBeTruthy();
    // features is the build's 10-65 % stretch: 1 of 2 done -> 38 %
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('38');
    expect(await screen.findByText('Fingerprint v2 is built and active.', {}, { timeout: 3000 })).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('status-version').textContent).toBe('v2'));
    expect(calls.find((c) => c.method === 'POST' && c.path.endsWith('/fingerprints'))!.body).toEqual({});

    fireEvent.click(screen.getByRole('button', { name: 'Roll back to v1' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Roll back tile to v1?' })).getByRole('button', { name: 'Roll back to v1' }));
    expect(await screen.findByText(/Fingerprint v1 is now active/)).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('status-version').textContent).toBe('v1'));
  });

  it('shows a failed build in plain words', async () => {
    fakeApi([
      products(product('tile', { golden_count: 1 })),
      ['GET', /^\/v1\/products\/tile$/, () => product('tile', { golden_count: 1 })],
      ['GET', /^\/v1\/products\/tile\/golden$/, () => ({ items: [golden('g1')] })],
      ['GET', /^\/v1\/products\/tile\/fingerprints$/, () => ({ items: [] })],
      ['POST', /fingerprints$/, () => ({ status: 202, body: job('b2', 'queued') })],
      ['GET', /^\/v1\/jobs\/b2$/, () => job('b2', 'failed', { error: { code: 'invalid_image', message: 'g1.jpg is truncated' } })],
    ]);
    renderApp('/setup/tile');
    fireEvent.click(await screen.findByTestId('generate'));
    expect((await screen.findByRole('alert')).textContent).toMatch(
      /The fingerprint could not be built: An image could not be read: g1\.jpg is truncated/,
    );
  });

  it('refuses a threshold that is not a positive number and sends a valid one, decimal comma or point', async () => {
    const { calls } = fakeApi([
      products(product('tile', { golden_count: 1 })),
      ['GET', /^\/v1\/products\/tile$/, () => product('tile', { golden_count: 1 })],
      ['GET', /^\/v1\/products\/tile\/golden$/, () => ({ items: [golden('g1')] })],
      ['GET', /^\/v1\/products\/tile\/fingerprints$/, () => ({ items: [] })],
      ['POST', /fingerprints$/, () => ({ status: 202, body: job('b3', 'queued') })],
      ['GET', /^\/v1\/jobs\/b3$/, () => job('b3', 'succeeded', { result: { version: 1 } })],
    ]);
    renderApp('/setup/tile');
    fireEvent.change(await screen.findByLabelText('Threshold override'), { target: { value: '-1' } });
    fireEvent.click(screen.getByTestId('generate'));
    expect((await screen.findByRole('alert')).textContent).toMatch(/threshold must be a positive number/);
    fireEvent.change(screen.getByLabelText('Threshold override'), { target: { value: '3,25' } });
    fireEvent.click(screen.getByTestId('generate'));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.path.endsWith('/fingerprints'))).toBe(true));
    expect(calls.find((c) => c.method === 'POST' && c.path.endsWith('/fingerprints'))!.body).toEqual({ threshold: 3.25 });
  });

  it('links every version and marks the one in the URL', async () => {
    const prod = product('tile', { golden_count: 8, active_version: 2, fingerprint: version(2) });
    fakeApi([
      products(prod),
      ['GET', /^\/v1\/products\/tile$/, () => prod],
      ['GET', /^\/v1\/products\/tile\/golden$/, () => ({ items: [] })],
      ['GET', /^\/v1\/products\/tile\/fingerprints$/, () => ({ items: [version(2), version(1, { active: false })] })],
    ]);
    renderApp('/setup/tile/versions/1');
    const v1 = await screen.findByRole('link', { name: 'v1' });
    expect(v1.getAttribute('href')).toBe('/setup/tile/versions/1');
    expect(v1.closest('tr')!.getAttribute('aria-current')).toBe('true');
    expect(screen.getByRole('link', { name: 'v2' }).closest('tr')!.getAttribute('aria-current')).toBeNull();
    expect(screen.getByRole('button', { name: 'Roll back to v1' })).toBeTruthy();
  });

  it('says when the product does not exist', async () => {
    fakeApi([products()]);
    renderApp('/setup/ghost');
    expect((await screen.findByRole('alert')).textContent).toMatch(/There is no product named "ghost"/);
  });
});

describe('Live inspection', () => {
  const ready = product('tile', { active_version: 1, fingerprint: version(1) });

  it('inspects one image and shows the decision, heatmap and score', async () => {
    const { calls } = fakeApi([
      products(ready),
      ['GET', /inspections\?limit=25$/, () => ({ items: [], next_cursor: null })],
      ['POST', /^\/v1\/products\/tile\/inspect$/, () => inspection('i1', 4.2)],
    ]);
    const { router } = renderApp('/inspect/tile');
    fireEvent.drop(await screen.findByTestId('inspect-drop'), { dataTransfer: { files: [imageFile('part.jpg')] } });
    fireEvent.click(screen.getByRole('button', { name: 'Run inspection' }));
    const viewer = await screen.findByTestId('inspection-viewer');
    expect(viewer.textContent).toContain('ANOMALOUS');
    expect(screen.getByTestId('heatmap').getAttribute('src')).toBe('/v1/products/tile/inspections/i1/heatmap.png');
    expect(screen.getByTestId('score').textContent).toBe('4.200');
    expect(((calls.find((c) => c.method === 'POST')!.body as FormData).get('file') as File).name).toBe('part.jpg');
    // the result has its own URL, and the page does not ask the server again for what it holds
    expect(router.state.location.pathname).toBe('/inspect/tile/i1');
    expect(calls.some((c) => c.path.endsWith('/inspections/i1'))).toBe(false);
  });

  it('runs several images as a batch job with progress, then a sortable table; marks a false alarm', async () => {
    let polls = 0;
    const items = [inspection('a', 1.1, { batch_id: 'j9' }), inspection('b', 5.2, { batch_id: 'j9' }), inspection('c', 2.9, { batch_id: 'j9' })];
    const { calls } = fakeApi([
      products(ready),
      ['GET', /inspections\?limit=25$/, () => ({ items: [], next_cursor: null })],
      ['POST', /batches$/, () => ({ status: 202, body: job('j9', 'queued', { kind: 'batch' }) })],
      [
        'GET',
        /^\/v1\/jobs\/j9$/,
        () =>
          ++polls < 2
            ? job('j9', 'running', { kind: 'batch', progress: { done: 1, total: 3 } })
            : job('j9', 'succeeded', {
                kind: 'batch',
                result: { count: 3, ok: 1, anomalous: 2, failed: [{ filename: 'bad.jpg', error: 'not an image' }] },
              }),
      ],
      ['GET', /inspections\?batch=j9/, () => ({ items, next_cursor: null })],
      ['POST', /inspections\/b\/feedback$/, () => ({ ...items[1], feedback: 'false_alarm' })],
    ]);
    renderApp('/inspect/tile');
    fireEvent.drop(await screen.findByTestId('inspect-drop'), {
      dataTransfer: { files: [imageFile('a.jpg'), imageFile('b.jpg'), imageFile('c.jpg'), imageFile('bad.jpg', 3)] },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Run batch of 4' }));
    expect(await screen.findByText(/Inspecting 1 of 3/)).toBeTruthy();
    const table = await screen.findByTestId('results-table', {}, { timeout: 3000 });
    expect(table.textContent).toContain('Batch of 4 images · 2 anomalous, 1 OK');
    expect(screen.getByRole('alert').textContent).toMatch(/1 image could not be inspected: bad\.jpg \(not an image\)/);
    // the highest score is shown first
    expect((await screen.findByTestId('inspection-viewer')).getAttribute('aria-label')).toBe('result for b.jpg');
    fireEvent.click(screen.getByRole('button', { name: /Score/ }));
    expect(screen.getAllByTestId('row-score').map((c) => c.textContent)).toEqual(['5.200', '2.900', '1.100']);

    fireEvent.click(screen.getByLabelText(/add this image to the golden samples/));
    fireEvent.click(screen.getByRole('button', { name: 'Mark as false alarm' }));
    expect(await screen.findByTestId('false-alarm-marked')).toBeTruthy();
    expect(calls.find((c) => c.path.endsWith('/feedback'))!.body).toEqual({ label: 'false_alarm', add_to_golden: true });
    expect(screen.getByText(/Marked as a false alarm and added to the golden samples/)).toBeTruthy();
  });

  it('opens a linked inspection directly; rows change the URL and back returns to it', async () => {
    const { calls } = fakeApi([
      products(ready),
      ['GET', /inspections\?limit=25$/, () => ({ items: [inspection('i1', 1.2), inspection('i2', 3.3)] })],
      ['GET', /inspections\/i7$/, () => inspection('i7', 4.4)],
    ]);
    const { router } = renderApp('/inspect/tile/i7');
    expect((await screen.findByTestId('inspection-viewer')).getAttribute('aria-label')).toBe('result for i7.jpg');
    expect(calls.some((c) => c.path.endsWith('/inspections/i7'))).toBe(true);
    // the linked one heads the recent ones
    await waitFor(() => expect(screen.getAllByTestId('row-score').map((c) => c.textContent)).toEqual(['4.400', '1.200', '3.300']));
    fireEvent.click(screen.getByText('i2.jpg'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/inspect/tile/i2'));
    expect((await screen.findByTestId('inspection-viewer')).getAttribute('aria-label')).toBe('result for i2.jpg');
    await router.navigate(-1);
    expect(router.state.location.pathname).toBe('/inspect/tile/i7');
    await waitFor(() => expect(screen.getByTestId('inspection-viewer').getAttribute('aria-label')).toBe('result for i7.jpg'));
  });

  it('pages through the recent inspections with the server\'s cursor', async () => {
    const newest = Array.from({ length: 25 }, (_, i) => inspection(`n${i}`, 1));
    const { calls } = fakeApi([
      products(ready),
      ['GET', /inspections\?limit=25$/, () => ({ items: newest, next_cursor: 40 })],
      ['GET', /inspections\?limit=25&cursor=40$/, () => ({ items: [inspection('old1', 3.1), inspection('old2', 1.1)], next_cursor: null })],
    ]);
    renderApp('/inspect/tile');
    await waitFor(() => expect(screen.getAllByTestId('row-score')).toHaveLength(25));
    expect(screen.getByTestId('pager-range').textContent).toBe('newest 1–25');
    expect((screen.getByRole('button', { name: '← Newer' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Older →' }));
    expect(await screen.findByText('old1.jpg')).toBeTruthy();
    expect(screen.getAllByTestId('row-score')).toHaveLength(2);
    expect(screen.getByTestId('pager-range').textContent).toBe('newest 26–27');
    expect((screen.getByRole('button', { name: 'Older →' }) as HTMLButtonElement).disabled).toBe(true);
    expect(calls.some((c) => c.path.endsWith('inspections?limit=25&cursor=40'))).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: '← Newer' }));
    await waitFor(() => expect(screen.getAllByTestId('row-score')).toHaveLength(25));
  });

  it('sends an engineer without a fingerprint to product setup', async () => {
    fakeApi([products(product('tile')), ['GET', /inspections/, () => ({ items: [] })]]);
    renderApp('/inspect/tile');
    expect(await screen.findByText(/tile has no fingerprint yet/)).toBeTruthy();
    expect(screen.getByRole('link', { name: /Set up tile/ }).getAttribute('href')).toBe('/setup/tile');
    expect(screen.getByTestId('inspect-drop').getAttribute('aria-disabled')).toBe('true');
  });

  it('shows Analytics of a product without a fingerprint as an empty state linking to setup', async () => {
    const { calls } = fakeApi([products(product('tile'))]);
    renderApp('/analytics/tile');
    expect((await screen.findByTestId('no-fingerprint')).textContent).toMatch(/tile has no fingerprint yet/);
    expect(screen.getByRole('link', { name: /Set up tile/ }).getAttribute('href')).toBe('/setup/tile');
    expect(screen.queryByTestId('stats')).toBeNull();
    expect(calls.some((c) => c.path.endsWith('/stats'))).toBe(false);
  });

  it('explains an API error in plain words', async () => {
    fakeApi([
      products(ready),
      ['GET', /inspections\?limit=25$/, () => ({ items: [] })],
      ['POST', /inspect$/, () => ({ status: 422, body: { error: { code: 'invalid_image', message: "'x.jpg' is not an image" } } })],
    ]);
    renderApp('/inspect/tile');
    fireEvent.drop(await screen.findByTestId('inspect-drop'), { dataTransfer: { files: [imageFile('x.jpg')] } });
    fireEvent.click(screen.getByRole('button', { name: 'Run inspection' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/An image could not be read: 'x\.jpg' is not an image/);
  });

  it('explains an ANOMALOUS result by its nearest golden patch and lists the defects seen before', async () => {
    const nearest = { bank_row: 7, sample: 2, view: 0, row: 3, col: 4, patch_row: 3, patch_col: 4, grid_h: 28, grid_w: 28, name: 'g3.png', distance: 1.5, sha256: 'ab' };
    const shown = inspection('i1', 4.2);
    shown.regions[0].nearest_golden = nearest;
    const golden = (name: string, distance: number, view = 0) => ({
      golden_id: `id-${name}`, name, sample: 2, view, row: 3, col: 4, distance,
      bbox: view ? null : [32, 24, 8, 8], image_url: view ? null : `/v1/products/tile/golden/id-${name}/image`,
    });
    const past = inspection('p1', 3.9, { created_at: new Date(Date.now() - 3600_000).toISOString(), feedback: 'false_alarm' });
    const { calls } = fakeApi([
      products(ready),
      ['GET', /inspections\?limit=25$/, () => ({ items: [], next_cursor: null })],
      ['GET', /inspections\/i1$/, () => shown],
      ['GET', /inspections\/i1\/explain\?k=5$/, () => ({ inspection_id: 'i1', regions: [{ region: 0, golden: [golden('g3.png', 1.5), golden('g5.png', 1.75, 2)] }] })],
      ['GET', /inspections\/i1\/similar\?limit=10$/, () => ({ inspection_id: 'i1', items: [{ inspection: past, distance: 0.5, region: 0, matched_region: 0 }] })],
    ]);
    renderApp('/inspect/tile/i1');
    const explained = await screen.findByTestId('explanations');
    expect(within(explained).getByRole('img', { name: 'region 1 of i1.jpg' })).toBeTruthy();
    const crop = await within(explained).findByRole('img', { name: 'patch of golden sample g3.png' });
    expect(crop.getAttribute('src')).toBe('/v1/products/tile/golden/id-g3.png/image');
    expect(within(explained).getByTestId('nearest-golden').textContent).toBe('unlike this patch of golden sample g3.png · distance 1.500');
    // the next nearest: an augmented view, named without a crop
    expect(explained.textContent).toContain('g5.png (augmented) · 1.750');
    expect(within(explained).getAllByRole('img').length).toBe(2);
    const seen = screen.getByTestId('seen-before');
    await waitFor(() => expect(within(seen).getByTestId('seen-summary').textContent).toBe('Seen 1 time in the last 7 days, last marked false alarm.'));
    expect(within(seen).getByRole('link').getAttribute('href')).toBe('/inspect/tile/p1');
    expect(within(seen).getByRole('link').textContent).toContain('false alarm');
    expect(calls.filter((c) => c.path.includes('/explain')).length).toBe(1);
  });

  it('says plainly that a defect has no history, and asks nothing more of an OK result', async () => {
    const { calls } = fakeApi([
      products(ready),
      ['GET', /inspections\?limit=25$/, () => ({ items: [], next_cursor: null })],
      ['GET', /inspections\/i1$/, () => inspection('i1', 4.2)],
      ['GET', /inspections\/i1\/explain/, () => ({ inspection_id: 'i1', regions: [{ region: 0, golden: [] }] })],
      ['GET', /inspections\/i1\/similar/, () => ({ inspection_id: 'i1', items: [] })],
      ['GET', /inspections\/ok$/, () => inspection('ok', 1)],
    ]);
    const { router } = renderApp('/inspect/tile/i1');
    await waitFor(() => expect(screen.getByTestId('seen-summary').textContent).toBe('No similar defect has been seen before on this product.'));
    expect(await screen.findByText('No golden patch was recorded for this region.')).toBeTruthy();
    await router.navigate('/inspect/tile/ok');
    await waitFor(() => expect(screen.getByTestId('inspection-viewer').getAttribute('aria-label')).toBe('result for ok.jpg'));
    expect(screen.queryByTestId('seen-before')).toBeNull();
    expect(calls.filter((c) => c.path.includes('/inspections/ok/')).length).toBe(0);
  });
});

describe('Analytics', () => {
  it('shows totals, the score distribution with its threshold, days and latest anomalies', async () => {
    fakeApi([
      products(product('tile', { active_version: 1, inspection_count: 4 })),
      [
        'GET',
        /stats$/,
        () => ({ total: 4, ok: 2, anomalous: 2, false_alarms: 1, labels: { confirmed_defect: 1, false_alarm: 1, missed_defect: 0 }, threshold: 2.5, by_day: [{ day: '2026-11-27', ok: 2, anomalous: 2 }] }),
      ],
      ['GET', /inspections\?decision=ANOMALOUS/, () => ({ items: [inspection('b', 5), inspection('d', 3)] })],
      ['GET', /inspections\?limit=/, () => ({ items: [inspection('a', 1), inspection('b', 5), inspection('c', 2), inspection('d', 3)] })],
    ]);
    renderApp('/analytics/tile');
    expect((await screen.findByTestId('stat-total')).textContent).toBe('4');
    expect(screen.getByTestId('stat-anomalous').textContent).toBe('2');
    expect(screen.getByText('50.0 %')).toBeTruthy();
    expect(screen.getByTestId('score-histogram').getAttribute('aria-label')).toBe(
      'score distribution of 4 inspections, threshold 2.500',
    );
    expect(screen.getByTestId('daily-bars')).toBeTruthy();
    const thumbs = screen.getByTestId('latest-anomalies').querySelectorAll('a');
    expect(thumbs.length).toBe(2);
    expect(thumbs[0].getAttribute('href')).toBe('/inspect/tile/b');
    expect(screen.getByAltText('overlay b.jpg').getAttribute('src')).toBe('/v1/products/tile/inspections/b/overlay.png');
  });
});

describe('App', () => {
  it('says plainly when the server cannot be reached, and recovers on retry', async () => {
    let up = false;
    const { fetchMock } = fakeApi([['GET', /^\/v1\/products$/, () => ({ items: [product('tile')] })]]);
    const real = fetchMock.getMockImplementation()!;
    fetchMock.mockImplementation(async (...args) => {
      if (!up) throw new TypeError('Failed to fetch');
      return real(...args);
    });
    renderApp('/setup');
    expect((await screen.findByRole('alert')).textContent).toMatch(/Cannot reach the goldenshot server/);
    up = true;
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('tile')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('sends images through fetch with the API key when one is set', async () => {
    localStorage.setItem('goldenshot.apiKey', 'k1');
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: [product('tile', { golden_count: 1 })] })],
      ['GET', /^\/v1\/products\/tile$/, () => product('tile', { golden_count: 1 })],
      ['GET', /golden$/, () => ({ items: [golden('g1')] })],
      ['GET', /fingerprints$/, () => ({ items: [] })],
      ['GET', /golden\/g1\/image$/, () => ({ body: 'x' })],
    ]);
    renderApp('/setup/tile');
    expect(await screen.findByAltText('g1.jpg')).toBeTruthy();
    const img = calls.find((c) => c.path.endsWith('/golden/g1/image'))!;
    expect(img.headers.get('X-API-Key')).toBe('k1');
    expect(screen.getByAltText('g1.jpg').getAttribute('src')).toBe('blob:test');
  });
});
