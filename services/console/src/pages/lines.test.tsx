import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { localMidnight } from '../api/queries';
import type { Line, MqttSink, Source } from '../api/types';
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

  it('adds a folder and a stream source, removes one, and shows why the server refused a target', async () => {
    let sources = [source('s1')];
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: [product('tile')] })],
      ['GET', /^\/v1\/lines\?/, () => ({ items: [line('tile', { sources })], next_cursor: null })],
      ['GET', /^\/v1\/products\/tile\/mqtt$/, () => ({ status: 404, body: { error: { code: 'not_found', message: "product 'tile' has no MQTT sink" } } })],
      ['POST', /^\/v1\/products\/tile\/sources$/, (c) => {
        const body = c.body as { kind: 'folder' | 'stream'; target: string };
        if (body.target === '/etc') {
          return { status: 400, body: { error: { code: 'invalid_request', message: 'target is outside the allowed source roots (GOLDENSHOT_SERVER_SOURCE_ROOTS)' } } };
        }
        const added = source(`s${sources.length + 1}`, body);
        sources = [...sources, added];
        return { status: 201, body: added };
      }],
      ['DELETE', /^\/v1\/products\/tile\/sources\/s1$/, () => {
        sources = sources.filter((s) => s.id !== 's1');
        return { status: 204 };
      }],
    ]);
    renderApp('/lines');
    const tile = await screen.findByTestId('line-tile');
    const configure = within(tile).getByRole('button', { name: 'Configure tile' });
    expect(configure.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(configure);
    expect(configure.getAttribute('aria-expanded')).toBe('true');
    const form = screen.getByRole('form', { name: 'Add a source to tile' });

    // a folder: sorted, fps left at the server's default
    fireEvent.change(within(form).getByLabelText('Target'), { target: { value: '/line/cam1' } });
    fireEvent.click(within(form).getByLabelText(/^Sort handled files/));
    fireEvent.click(within(form).getByRole('button', { name: 'Add source' }));
    await within(tile).findByText('folder /line/cam1');
    // a triggered stream at 5 frames/s
    fireEvent.change(within(form).getByLabelText('Kind'), { target: { value: 'stream' } });
    expect(within(form).queryByLabelText(/^Sort handled files/)).toBeNull();
    fireEvent.change(within(form).getByLabelText('Target'), { target: { value: 'rtsp://cam9/stream' } });
    fireEvent.change(within(form).getByLabelText('Frames per second'), { target: { value: '5' } });
    fireEvent.click(within(form).getByLabelText(/^Triggered/));
    fireEvent.click(within(form).getByRole('button', { name: 'Add source' }));
    await within(tile).findByText('stream rtsp://cam9/stream');
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.body)).toEqual([
      { kind: 'folder', target: '/line/cam1', fps: 2, sort: true, triggered: false },
      { kind: 'stream', target: 'rtsp://cam9/stream', fps: 5, sort: false, triggered: true },
    ]);

    // refused: the server's reason, in the form
    fireEvent.change(within(form).getByLabelText('Kind'), { target: { value: 'folder' } });
    fireEvent.change(within(form).getByLabelText('Target'), { target: { value: '/etc' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Add source' }));
    expect((await within(form).findByRole('alert')).textContent).toMatch(/target is outside the allowed source roots/);

    // removed after a confirmation
    fireEvent.click(within(tile).getByRole('button', { name: 'Remove stream rtsp://***@cam1/stream' }));
    const dialog = screen.getByRole('dialog', { name: 'Remove stream rtsp://***@cam1/stream from tile?' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Remove' }));
    await waitFor(() => expect(within(tile).queryByText('stream rtsp://***@cam1/stream')).toBeNull());
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/v1/products/tile/sources/s1']);
  });

  it('sets the MQTT sink, shows its delivery and its refusal, and removes it', async () => {
    const sink = (topic: string, events: 'anomalous' | 'all'): MqttSink => ({
      topic, events, created_at: T, pending: 3, connected: false, last_error: 'no broker configured (GOLDENSHOT_SERVER_MQTT_HOST)',
    });
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: [product('tile')] })],
      ['GET', /^\/v1\/lines\?/, () => ({ items: [line('tile')], next_cursor: null })],
      ['GET', /^\/v1\/products\/tile\/mqtt$/, () => ({ status: 404, body: { error: { code: 'not_found', message: "product 'tile' has no MQTT sink" } } })],
      ['PUT', /^\/v1\/products\/tile\/mqtt$/, (c) => {
        const { topic, events } = c.body as { topic: string; events: 'anomalous' | 'all' };
        if (topic.includes('#')) return { status: 400, body: { error: { code: 'invalid_request', message: 'topic must not hold the MQTT wildcards + or #' } } };
        return sink(topic, events);
      }],
      ['DELETE', /^\/v1\/products\/tile\/mqtt$/, () => ({ status: 204 })],
    ]);
    renderApp('/lines');
    fireEvent.click(await screen.findByRole('button', { name: 'Configure tile' }));
    const panel = await screen.findByRole('region', { name: 'MQTT sink of tile' });
    await within(panel).findByText(/No MQTT sink/);
    const form = within(panel).getByRole('form', { name: 'Set the MQTT sink of tile' });

    fireEvent.change(within(form).getByLabelText('Topic'), { target: { value: 'plant/#' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Set sink' }));
    expect((await within(form).findByRole('alert')).textContent).toMatch(/must not hold the MQTT wildcards/);

    fireEvent.change(within(form).getByLabelText('Topic'), { target: { value: 'plant/{product}/{decision}' } });
    fireEvent.change(within(form).getByLabelText('Publish'), { target: { value: 'all' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Set sink' }));
    const shown = await within(panel).findByTestId('mqtt-sink');
    expect(shown.textContent).toMatch(/Publishes every result to plant\/\{product\}\/\{decision\}\. not connected · 3 pending/);
    expect(shown.textContent).toMatch(/no broker configured/);
    expect(calls.filter((c) => c.method === 'PUT').map((c) => c.body)).toEqual([
      { topic: 'plant/#', events: 'anomalous' },
      { topic: 'plant/{product}/{decision}', events: 'all' },
    ]);
    expect(within(form).getByRole('button', { name: 'Update sink' })).toBeTruthy();

    fireEvent.click(within(panel).getByRole('button', { name: 'Remove sink' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Remove the MQTT sink of tile?' })).getByRole('button', { name: 'Remove sink' }));
    await within(panel).findByText(/No MQTT sink/);
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/v1/products/tile/mqtt']);
  });

  it('counts today from the local midnight', () => {
    const at = new Date(2026, 11, 2, 15, 30);
    expect(new Date(localMidnight(at)).getTime()).toBe(new Date(2026, 11, 2).getTime());
  });
});
