import { QueryClientProvider } from '@tanstack/react-query';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { createQueryClient } from '../../api/queries';
import type { Tuning } from '../../api/types';
import { LabelPanel } from '../../components/LabelPanel';
import { ResultsTable } from '../../components/ResultsTable';
import { fakeApi, inspection, job, product, version } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';
import { ExportPanel } from '../analytics/ExportPanel';
import { replaySummary } from './Replay';
import { histogram, outcome, parseDecimal } from './tuning';

const points: Tuning['points'] = [
  { id: 'a', version: 1, score: 1.0, decision: 'OK', label: null, created_at: 't' },
  { id: 'b', version: 1, score: 2.0, decision: 'OK', label: 'missed_defect', created_at: 't' },
  { id: 'c', version: 1, score: 3.0, decision: 'ANOMALOUS', label: 'false_alarm', created_at: 't' },
  { id: 'd', version: 1, score: 4.0, decision: 'ANOMALOUS', label: 'confirmed_defect', created_at: 't' },
  { id: 'e', version: 1, score: 5.0, decision: 'ANOMALOUS', label: null, created_at: 't' },
];
const tuning: Tuning = { version: 1, threshold: 2.5, golden_max: 1.5, max_score: 5.0, points };

function withQueries(ui: React.ReactNode) {
  return render(<QueryClientProvider client={createQueryClient()}>{ui}</QueryClientProvider>);
}

describe('threshold arithmetic', () => {
  it('reads a decimal comma and refuses what is not a number', () => {
    expect(parseDecimal('3,25')).toBe(3.25);
    expect(parseDecimal(' 3.25 ')).toBe(3.25);
    for (const bad of ['', 'abc', '3,2,5', '1e3', '3 25']) expect(parseDecimal(bad)).toBeNaN();
  });

  it('counts false alarms and misses the way the server decides (a score above the threshold is flagged)', () => {
    expect(outcome(points, 2.5)).toEqual({ falseAlarms: 1, misses: 1, labelled: 3, flagged: 1, unlabelled: 2 });
    expect(outcome(points, 3.0)).toEqual({ falseAlarms: 0, misses: 1, labelled: 3, flagged: 1, unlabelled: 2 });
    expect(outcome(points, 1.5)).toEqual({ falseAlarms: 1, misses: 0, labelled: 3, flagged: 1, unlabelled: 2 });
    expect(outcome(points, 4.0)).toMatchObject({ falseAlarms: 0, misses: 2 });
  });

  it('bins scores by label', () => {
    const bins = histogram(points, 0, 5, 5);
    expect(bins.map((b) => b.none + b.good + b.bad)).toEqual([0, 1, 1, 1, 2]);
    expect(bins[3]).toEqual({ none: 0, good: 1, bad: 0 });
  });
});

describe('LabelPanel', () => {
  it('offers the labels that fit the decision and saves one with its note', async () => {
    const { calls } = fakeApi([
      ['PUT', /\/label$/, () => ({ label: 'false_alarm', note: 'glare', actor: 'local', created_at: 't' })],
    ]);
    withQueries(<LabelPanel name="tile" inspection={inspection('x', 4)} />);
    expect(screen.queryByLabelText('Missed defect')).toBeNull(); // a flagged part cannot have been missed
    fireEvent.click(screen.getByLabelText('False alarm'));
    fireEvent.change(screen.getByLabelText('Note'), { target: { value: 'glare' } });
    fireEvent.click(screen.getByText('Save label'));
    await waitFor(() => expect(calls.some((c) => c.method === 'PUT')).toBe(true));
    const put = calls.find((c) => c.method === 'PUT')!;
    expect(put.path).toBe('/v1/products/tile/inspections/x/label');
    expect(put.body).toEqual({ label: 'false_alarm', note: 'glare' });
  });

  it('shows who labelled it and clears the label', async () => {
    const { calls } = fakeApi([['DELETE', /\/label$/, () => ({ status: 204 })]]);
    const labelled = inspection('y', 1, { label: { label: 'missed_defect', note: 'crack', actor: 'plant-a/anna', created_at: '2026-11-27T10:00:00Z' } });
    withQueries(<LabelPanel name="tile" inspection={labelled} />);
    expect(screen.getByTestId('label-current').textContent).toContain('missed defect by plant-a/anna');
    expect((screen.getByLabelText('Missed defect') as HTMLInputElement).checked).toBe(true);
    fireEvent.click(screen.getByText('Clear label'));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE')).toBe(true));
  });
});

describe('ResultsTable', () => {
  it('shows the label of each result, and the older false-alarm feedback of results labelled before labels existed', () => {
    const labelled = inspection('a', 1, { label: { label: 'missed_defect', note: '', actor: 'local', created_at: 't' } });
    render(<ResultsTable caption="Results" items={[labelled, inspection('b', 4, { feedback: 'false_alarm' })]} onSelect={() => {}} />);
    const rows = screen.getAllByRole('row');
    expect(rows[1].textContent).toContain('missed defect');
    expect(rows[2].textContent).toContain('false alarm');
  });
});

describe('Threshold tuning and replay on the setup page', () => {
  const routes = (extra: Parameters<typeof fakeApi>[0] = []) =>
    fakeApi([
      ['GET', /^\/v1\/products$/, () => ({ items: [product('tile', { active_version: 1, fingerprint: version(1) })] })],
      ['GET', /^\/v1\/products\/tile$/, () => product('tile', { active_version: 1, fingerprint: version(1), golden_count: 8 })],
      ['GET', /\/golden$/, () => ({ items: [] })],
      ['GET', /\/fingerprints$/, () => ({ items: [version(2, { active: false, origin: { parent_version: 1, actor: 'local', reason: 'threshold tuned from 2.5 to 3', created_at: 't' } }), version(1)] })],
      ['GET', /\/activations$/, () => ({ items: [{ version: 1, previous_version: null, actor: 'local', created_at: '2026-11-27T10:00:00Z' }] })],
      ['GET', /\/tuning\?version=\d+$/, () => tuning],
      // the setup page's other panels (drift, golden health, ignore mask), quiet
      ['GET', /\/drift$/, () => ({ version: 1, inspections: 0, window: 100, min_inspections: 20, recent_median: null, golden_median: 1, ratio: null, high: 1.2, low: 0.8, flagged: false, direction: null })],
      ['GET', /\/fingerprints\/\d+\/samples$/, () => ({ version: 1, outlier_ratio: 1.4, items: [] })],
      ['GET', /\/ignore-mask$/, () => ({ shapes: [], updated_at: null })],
      ...extra,
    ]);

  it('shows live what a typed threshold (decimal comma) would give, and saves it as a new version', async () => {
    const { calls } = routes([['POST', /\/fingerprints\/1\/tune$/, () => ({ status: 201, body: version(3, { active: false }) })]]);
    const { router } = renderApp('/setup/tile');
    const input = await screen.findByTestId('tune-input');
    expect(screen.getByTestId('tune-outcome').textContent).toContain('1 false alarm and 1 miss');
    fireEvent.change(input, { target: { value: '3,25' } });
    expect(screen.getByTestId('tune-outcome').textContent).toContain('0 false alarms and 1 miss');
    fireEvent.click(screen.getByText('Save as a new version'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/setup/tile/versions/3'));
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ threshold: 3.25, confirm: false, reason: '' });
    expect(screen.getByTestId('activation-history').textContent).toContain('local');
  });

  it('needs a confirmation above every score seen and refuses what is not a positive number', async () => {
    routes();
    renderApp('/setup/tile');
    const input = await screen.findByTestId('tune-input');
    fireEvent.change(input, { target: { value: '-1' } });
    expect(screen.getByRole('alert').textContent).toContain('positive number');
    fireEvent.change(input, { target: { value: '6' } });
    const save = screen.getByText('Save as a new version') as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    fireEvent.click(screen.getByLabelText(/Save anyway/));
    expect(save.disabled).toBe(false);
  });

  it('replays a candidate version, says what changes, and offers to activate it', async () => {
    const result = {
      version: 2, threshold: 3, compared: 5, failed: 0, to_ok: 1, to_anomalous: 0, fixes_false_alarms: 1, introduces_false_alarms: 0,
      fixes_misses: 0, introduces_misses: 0,
      changes: [{ inspection_id: 'c', filename: 'c.jpg', created_at: 't', score_before: 3.0, score_after: 3.0, decision_before: 'ANOMALOUS', decision_after: 'OK', label: 'false_alarm' }],
    };
    const { calls } = routes([
      ['POST', /\/fingerprints\/2\/replay$/, () => ({ status: 202, body: job('r1', 'queued', { kind: 'replay' }) })],
      ['GET', /\/v1\/jobs\/r1$/, () => job('r1', 'succeeded', { kind: 'replay', result })],
      ['POST', /\/fingerprints\/2\/activate$/, () => version(2)],
    ]);
    renderApp('/setup/tile/versions/2');
    fireEvent.click(await screen.findByText('Replay'));
    expect((await screen.findByTestId('replay-summary')).textContent).toBe(
      'v2 would change 1 of 5 decisions (0 OK → ANOMALOUS, 1 ANOMALOUS → OK): fixes 1 false alarm.',
    );
    expect(calls.find((c) => c.path.endsWith('/replay'))!.body).toEqual({ last: 100 });
    fireEvent.click(within(screen.getByTestId('replay')).getByText('Activate v2'));
    fireEvent.click(within(await screen.findByRole('dialog')).getByText('Activate v2'));
    await waitFor(() => expect(calls.some((c) => c.path.endsWith('/2/activate'))).toBe(true));
  });

  it('puts a replay without changes in one sentence', () => {
    const none = { compared: 4, failed: 0, to_ok: 0, to_anomalous: 0, fixes_false_alarms: 0, introduces_false_alarms: 0, fixes_misses: 0, introduces_misses: 0, changes: [] };
    expect(replaySummary(3, none)).toBe('v3 would decide all 4 inspections as they were decided.');
    expect(replaySummary(3, { ...none, to_ok: 2, introduces_misses: 1 })).toContain('introduces 1 miss.');
  });
});

describe('ExportPanel', () => {
  it('downloads the export with the chosen filters', async () => {
    const { calls } = fakeApi([['GET', /\/inspections\/export\?/, () => 'id,created_at\n']]);
    render(<ExportPanel name="tile" />);
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2026-12-01' } });
    fireEvent.change(screen.getByLabelText('Label'), { target: { value: 'false_alarm' } });
    fireEvent.click(screen.getByTestId('export'));
    await waitFor(() => expect(calls.length).toBe(1));
    expect(calls[0].path).toBe('/v1/products/tile/inspections/export?format=csv&since=2026-12-01&label=false_alarm');
  });
});
