import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { localMidnight } from '../api/queries';
import type { Line, Source } from '../api/types';
import { T, fakeApi, inspection, product } from '../test/fakeApi';
import { renderApp } from '../test/renderApp';

function source(id: string, extra: Partial<Source> = {}): Source {
  return {
    id, kind: 'stream', target: 'rtsp://***@cam1/stream', fps: 2, triggered: false, sort: false, enabled: true, created_at: T,
    state: 'running', seen: 10, inspected: 9, failed: 1, pending: 0, last_decision: 'OK', last_error: null, ...extra,
  };
}

const line = (name: string, extra: Partial<Line> = {}): Line => ({
  name, active_version: 1, sources: [], last: null, inspected: 0, anomalous: 0, ...extra,
});

describe('Lines', () => {
  it('shows every line with its sources, last result and day, and stops, starts and triggers sources', async () => {
    const lines = [
      line('tile', { sources: [source('s1'), source('s2', { triggered: true, target: 'rtsp://***@cam3/stream' })], last: inspection('i1', 3.1), inspected: 40, anomalous: 4 }),
      line('screw', { active_version: null, sources: [source('s3', { enabled: false, state: 'waiting', last_error: 'cannot open rtsp://***@cam2/x' })] }),
    ];
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: [product('tile'), product('screw')] })],
      ['GET', /^\/v1\/lines\?/, () => ({ items: lines, next_cursor: null })],
      ['POST', /^\/v1\/products\/tile\/sources\/s1\/stop$/, () => source('s1', { enabled: false, state: 'stopped' })],
      ['POST', /^\/v1\/products\/tile\/sources\/s2\/trigger$/, () => ({ status: 202, body: { pending: 1 } })],
      ['POST', /^\/v1\/products\/screw\/sources\/s3\/start$/, () => source('s3')],
    ]);
    renderApp('/lines');
    const tile = await screen.findByTestId('line-tile');
    expect(within(tile).getByTestId('decision').textContent).toBe('ANOMALOUS');
    expect(tile.textContent).toMatch(/40 inspected · 4 anomalous/);
    expect(tile.textContent).toMatch(/90 % passed/);
    const screw = screen.getByTestId('line-screw');
    expect(screw.textContent).toMatch(/no fingerprint yet/);
    expect(screw.textContent).toMatch(/cannot open rtsp:\/\/\*\*\*@cam2\/x/);
    expect(within(screw).queryByRole('button', { name: /Trigger/ })).toBeNull();
    fireEvent.click(within(tile).getByRole('button', { name: 'Stop stream rtsp://***@cam1/stream' }));
    fireEvent.click(within(tile).getByRole('button', { name: 'Trigger stream rtsp://***@cam3/stream' }));
    fireEvent.click(within(screw).getByRole('button', { name: /^Start/ }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'POST').map((c) => c.path).sort()).toEqual([
      '/v1/products/screw/sources/s3/start', '/v1/products/tile/sources/s1/stop', '/v1/products/tile/sources/s2/trigger',
    ]));
    const asked = calls.find((c) => c.path.startsWith('/v1/lines'))!;
    expect(new URL(asked.path, 'http://x').searchParams.get('since')).toBe(localMidnight());
  });

  it('counts today from the local midnight', () => {
    const at = new Date(2026, 11, 2, 15, 30);
    expect(new Date(localMidnight(at)).getTime()).toBe(new Date(2026, 11, 2).getTime());
  });
});
