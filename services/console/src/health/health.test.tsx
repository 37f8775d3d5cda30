import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Drift, SampleHealth } from '../api/health';
import { fakeApi, golden, inspection, product, version } from '../test/fakeApi';
import { renderApp } from '../test/renderApp';
import { rectBetween } from './IgnoreMaskEditor';

const drift = (extra: Partial<Drift> = {}): Drift => ({
  version: 1,
  inspections: 10,
  window: 100,
  min_inspections: 5,
  recent_median: 2.4,
  golden_median: 2.35,
  ratio: 1.02,
  high: 1.2,
  low: 0.8,
  flagged: false,
  direction: null,
  ...extra,
});

const sample = (id: string, score: number, status: SampleHealth['status'] = 'ok'): SampleHealth => ({
  name: `${id}.jpg`,
  sha256: id,
  golden_id: id,
  score,
  ratio: score / 2,
  status,
});

/** A product with an active v1 built from g1-g3 (g3 the wrong product); `extra` routes come first. */
function setup(extra: [string, RegExp, (call: { body: unknown }) => unknown][] = [], driftNow: Drift = drift()) {
  const prod = product('tile', { golden_count: 3, active_version: 1, fingerprint: version(1, { golden_count: 3 }) });
  return fakeApi([
    ...extra,
    ['GET', /^\/v1\/products$/, () => ({ items: [prod] })],
    ['GET', /^\/v1\/products\/tile$/, () => prod],
    ['GET', /^\/v1\/products\/tile\/golden$/, () => ({ items: [golden('g1'), golden('g2'), golden('g3')] })],
    ['GET', /^\/v1\/products\/tile\/fingerprints$/, () => ({ items: [version(1, { golden_count: 3 })] })],
    ['GET', /^\/v1\/products\/tile\/drift$/, () => driftNow],
    [
      'GET',
      /^\/v1\/products\/tile\/fingerprints\/1\/samples$/,
      () => ({ version: 1, outlier_ratio: 1.4, items: [sample('g1', 2.0), sample('g2', 2.1), sample('g3', 4.4, 'outlier')] }),
    ],
    ['GET', /^\/v1\/products\/tile\/ignore-mask$/, () => ({ shapes: [], updated_at: null })],
    // the setup page's threshold tuning and activation history, quiet
    ['GET', /^\/v1\/products\/tile\/tuning\?version=\d+$/, () => ({ version: 1, threshold: 2.5, golden_max: 2.1, max_score: null, points: [] })],
    ['GET', /^\/v1\/products\/tile\/activations$/, () => ({ items: [] })],
    ['GET', /^\/v1\/products\/tile\/inspections\?/, () => ({ items: [inspection('i1', 3.0, { filename: 'label.jpg' })], next_cursor: null })],
  ]);
}

// jsdom has no PointerEvent: a MouseEvent with a pointer id carries the coordinates the editor reads.
if (!('PointerEvent' in window)) {
  class PointerEventStandIn extends MouseEvent {
    readonly pointerId: number;
    constructor(type: string, init: PointerEventInit = {}) {
      super(type, init);
      this.pointerId = init.pointerId ?? 0;
    }
  }
  Object.assign(window, { PointerEvent: PointerEventStandIn });
}

afterEach(() => vi.restoreAllMocks());

describe('Drift banner', () => {
  it('warns on the product when the scores of good parts moved', async () => {
    setup([], drift({ ratio: 1.58, recent_median: 3.7, flagged: true, direction: 'up' }));
    renderApp('/setup/tile');
    const banner = await screen.findByTestId('drift-banner');
    expect(banner.textContent).toMatch(/Scores of good parts have moved: camera, light or supplier changed\?/);
    expect(banner.textContent).toMatch(/1\.580 × the golden samples'/);
  });

  it('stays away while the line looks like the golden samples', async () => {
    const { calls } = setup();
    renderApp('/setup/tile');
    await screen.findByTestId('product-title');
    await waitFor(() => expect(calls.some((c) => c.path.endsWith('/drift'))).toBe(true));
    expect(screen.queryByTestId('drift-banner')).toBeNull();
  });
});

describe('Golden sample health', () => {
  it("shows each sample's leave-one-out score and names the outlier, on the samples and in the version", async () => {
    setup();
    renderApp('/setup/tile');
    const badges = await screen.findAllByTestId('sample-health');
    expect(badges.map((b) => b.textContent)).toEqual(['LOO 2.000', 'LOO 2.100', 'LOO 4.400⚠ unlike the others']);
    const listed = await screen.findByTestId('version-samples');
    expect(within(listed).getByRole('heading').textContent).toMatch(/Golden samples of v1/);
    expect(within(listed).getByTestId('version-outliers').textContent).toMatch(/^g3\.jpg: unlike the other samples/);
    expect(within(listed).getAllByRole('row').length).toBe(4);
  });
});

describe('Ignore mask editor', () => {
  it('draws a rectangle by dragging, a polygon by clicks, and saves them in normalised coordinates', async () => {
    let saved: unknown = null;
    const { calls } = setup([
      ['PUT', /^\/v1\/products\/tile\/ignore-mask$/, (call) => ((saved = call.body), { ...(call.body as object), updated_at: 'now' })],
    ]);
    renderApp('/setup/tile');
    const surface = await screen.findByTestId('mask-surface');
    vi.spyOn(surface, 'getBoundingClientRect').mockReturnValue({ left: 100, top: 50, width: 200, height: 100, right: 300, bottom: 150, x: 100, y: 50, toJSON: () => ({}) });
    await waitFor(() => expect(calls.some((c) => c.path.endsWith('/ignore-mask'))).toBe(true));
    const save = screen.getByRole('button', { name: 'Save mask' });
    expect((save as HTMLButtonElement).disabled).toBe(true); // nothing changed yet

    fireEvent.pointerDown(surface, { clientX: 120, clientY: 60, pointerId: 1 });
    fireEvent.pointerMove(surface, { clientX: 180, clientY: 100, pointerId: 1 });
    fireEvent.pointerUp(surface, { clientX: 180, clientY: 100, pointerId: 1 });
    fireEvent.pointerDown(surface, { clientX: 200, clientY: 100, pointerId: 1 }); // a click, not a drag: nothing
    fireEvent.pointerUp(surface, { clientX: 200, clientY: 100, pointerId: 1 });
    expect(within(screen.getByTestId('mask-shapes')).getAllByRole('listitem').length).toBe(1);

    fireEvent.click(screen.getByLabelText('Polygon (click corners)'));
    for (const [x, y] of [[300, 150], [250, 150], [300, 100]]) fireEvent.pointerDown(surface, { clientX: x, clientY: y, pointerId: 1 });
    fireEvent.click(screen.getByRole('button', { name: 'Close polygon (3 points)' }));
    expect(screen.getByText('polygon of 3 points')).toBeTruthy();

    fireEvent.click(save);
    expect(await screen.findByText(/Ignore mask saved: 2 regions not judged/)).toBeTruthy();
    expect(saved).toEqual({
      shapes: [
        { kind: 'rect', x: 0.1, y: 0.1, width: 0.3, height: 0.4 },
        { kind: 'polygon', points: [[1, 1], [0.75, 1], [1, 0.5]] },
      ],
    });
  });

  it('removes a shape and keeps a refused mask on screen with the reason', async () => {
    setup([
      ['GET', /^\/v1\/products\/tile\/ignore-mask$/, () => ({ shapes: [{ kind: 'rect', x: 0, y: 0, width: 0.5, height: 0.5 }, { kind: 'rect', x: 0.5, y: 0.5, width: 0.2, height: 0.2 }], updated_at: 'then' })],
      ['PUT', /^\/v1\/products\/tile\/ignore-mask$/, () => ({ status: 400, body: { error: { code: 'too_many_shapes', message: 'an ignore mask holds at most 1 shapes' } } })],
    ]);
    renderApp('/setup/tile');
    const list = await screen.findByTestId('mask-shapes');
    fireEvent.click(within(list).getByRole('button', { name: 'Remove rectangle at 0 %, 0 %, 50 × 50 %' }));
    expect(within(list).getAllByRole('listitem').length).toBe(1);
    fireEvent.click(screen.getByRole('button', { name: 'Save mask' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/at most 1 shapes/);
    expect(screen.getByText('unsaved changes')).toBeTruthy();
  });

  it('draws over a golden sample or one of the latest inspections', async () => {
    setup();
    renderApp('/setup/tile');
    const canvas = await screen.findByTestId('mask-canvas');
    expect(within(canvas).getByRole('img', { name: 'golden sample g1.jpg' }).getAttribute('src')).toBe('/v1/products/tile/golden/g1/image');
    const picker = screen.getByLabelText('Drawn over');
    await waitFor(() => expect(within(picker).getAllByRole('option').length).toBe(4));
    fireEvent.change(picker, { target: { value: 'inspection-i1' } });
    expect(within(canvas).getByRole('img', { name: 'inspection label.jpg (ANOMALOUS)' }).getAttribute('src')).toBe('/v1/products/tile/inspections/i1/image');
  });

  it('makes no rectangle of a click', () => {
    expect(rectBetween([0.2, 0.2], [0.205, 0.3])).toBeNull();
    expect(rectBetween([0.5, 0.6], [0.1, 0.2])).toEqual({ kind: 'rect', x: 0.1, y: 0.2, width: 0.4, height: 0.4 });
  });
});
