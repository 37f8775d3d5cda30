import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { fakeApi, inspection } from '../test/fakeApi';
import { FakePlot } from '../test/fakeUPlot';
import { DailyBars, histogram, ScoreHistogram } from './Charts';
import { ConfirmButton } from './ConfirmButton';
import { DecisionBadge } from './DecisionBadge';
import { Dropzone } from './Dropzone';
import { InspectionViewer } from './InspectionViewer';
import { ProgressBar } from './ProgressBar';
import { ResultsTable } from './ResultsTable';
import { ScoreBar } from './ScoreBar';
import { Settings } from './Settings';

describe('DecisionBadge and ScoreBar', () => {
  it('shows the decision with its colour class', () => {
    render(<DecisionBadge decision="ANOMALOUS" />);
    expect(screen.getByText('ANOMALOUS').className).toContain('badge-anomalous');
  });

  it('puts the score against the threshold', () => {
    const { container } = render(<ScoreBar score={3.75} threshold={2.5} />);
    expect(screen.getByTestId('score').textContent).toBe('3.750');
    expect(container.textContent).toContain('> threshold 2.500');
    expect(container.textContent).toContain('150 % of threshold');
    expect(container.querySelector('.scorebar-fill')!.className).toContain('over');
    // scale 0 .. 2x threshold = 5: threshold at 50 %, score at 75 %
    expect((container.querySelector('.scorebar-threshold') as HTMLElement).style.left).toBe('50%');
    expect((container.querySelector('.scorebar-fill') as HTMLElement).style.width).toBe('75%');
    expect(screen.queryByTestId('golden-spread')).toBeNull(); // no golden scores given, none drawn
  });

  it("shades the golden samples' scores on the same scale", () => {
    const { container } = render(<ScoreBar score={1} threshold={2.5} golden={{ mean: 1.5, std: 0.5, max: 2 }} />);
    const band = screen.getByTestId('golden-spread');
    // scale 0 .. 5: the band runs from mean - std = 1 (20 %) to max = 2 (40 %)
    expect([band.style.left, band.style.width]).toEqual(['20%', '20%']);
    expect(screen.getByTestId('golden-spread-text').textContent).toMatch(/golden samples\) scored 1\.000–2\.000/);
    expect(container.querySelector('.scorebar-fill')!.className).toContain('under');
  });
});

describe('ProgressBar', () => {
  it('reports a known fraction and stays indeterminate otherwise', () => {
    const { rerender } = render(<ProgressBar fraction={0.4} label="Extracting features" />);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('40');
    expect(screen.getByText(/Extracting features · 40%/)).toBeTruthy();
    rerender(<ProgressBar label="Uploading" />);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBeNull();
    expect(screen.getByRole('progressbar').className).toContain('progress-indeterminate');
  });
});

describe('Dropzone', () => {
  it('passes dropped images on and reports the rest by name', () => {
    const onFiles = vi.fn();
    const onRejected = vi.fn();
    render(<Dropzone label="Drop here" onFiles={onFiles} onRejected={onRejected} testId="dz" />);
    const img = new File(['x'], 'a.jpg', { type: 'image/jpeg' });
    const bmp = new File(['x'], 'b.BMP', { type: '' });
    const txt = new File(['x'], 'notes.txt', { type: 'text/plain' });
    fireEvent.drop(screen.getByTestId('dz'), { dataTransfer: { files: [img, bmp, txt] } });
    expect(onFiles).toHaveBeenCalledWith([img, bmp]);
    expect(onRejected).toHaveBeenCalledWith(['notes.txt']);
  });

  it('takes files picked through the file dialog and ignores drops while disabled', () => {
    const onFiles = vi.fn();
    const { rerender } = render(<Dropzone label="Drop here" onFiles={onFiles} testId="dz" />);
    const img = new File(['x'], 'a.png', { type: 'image/png' });
    fireEvent.change(screen.getByTestId('dz-input'), { target: { files: [img] } });
    expect(onFiles).toHaveBeenCalledWith([img]);
    rerender(<Dropzone label="Drop here" onFiles={onFiles} testId="dz" disabled />);
    fireEvent.drop(screen.getByTestId('dz'), { dataTransfer: { files: [img] } });
    expect(onFiles).toHaveBeenCalledTimes(1);
  });
});

describe('ResultsTable', () => {
  const items = [inspection('a', 1.2), inspection('b', 4.1), inspection('c', 2.7)];
  const scores = () => screen.getAllByTestId('row-score').map((td) => td.textContent);

  it('sorts by score, highest first then lowest first', () => {
    render(<ResultsTable items={items} onSelect={() => {}} caption="Batch" />);
    expect(scores()).toEqual(['1.200', '4.100', '2.700']);
    const header = screen.getByRole('button', { name: /Score/ });
    fireEvent.click(header);
    expect(scores()).toEqual(['4.100', '2.700', '1.200']);
    expect(header.closest('th')!.getAttribute('aria-sort')).toBe('descending');
    fireEvent.click(header);
    expect(scores()).toEqual(['1.200', '2.700', '4.100']);
    expect(header.closest('th')!.getAttribute('aria-sort')).toBe('ascending');
  });

  it('counts decisions and selects a row on click', () => {
    const onSelect = vi.fn();
    render(<ResultsTable items={items} onSelect={onSelect} caption="Batch of 3" selectedId="c" />);
    expect(screen.getByText(/Batch of 3 · 2 anomalous, 1 OK/)).toBeTruthy();
    fireEvent.click(screen.getByText('b.jpg'));
    expect(onSelect).toHaveBeenCalledWith(items[1]);
    expect(screen.getByText('c.jpg').closest('tr')!.className).toBe('selected');
  });
});

describe('InspectionViewer', () => {
  it('stacks the heatmap on the original, with an opacity slider and region outlines', () => {
    const ins = inspection('x', 4);
    const { container } = render(<InspectionViewer inspection={ins} />);
    expect(screen.getByTestId('decision').textContent).toBe('ANOMALOUS');
    expect(screen.getByAltText('original x.jpg').getAttribute('src')).toBe(ins.image_url);
    const heat = screen.getByTestId('heatmap') as HTMLImageElement;
    expect(heat.getAttribute('src')).toBe(ins.heatmap_url);
    expect(heat.style.opacity).toBe('0.6');
    const slider = screen.getByRole('slider', { name: 'Heatmap opacity' });
    fireEvent.keyDown(slider, { key: 'ArrowLeft' });
    fireEvent.keyDown(slider, { key: 'ArrowLeft' });
    expect(heat.style.opacity).toBe('0.5');
    fireEvent.keyDown(slider, { key: 'Home' });
    expect([heat.style.opacity, slider.getAttribute('aria-valuenow')]).toEqual(['0', '0']);
    const svg = screen.getByTestId('region-outlines');
    expect(svg.getAttribute('viewBox')).toBe('0 0 200 100');
    // each region twice: a black halo under a white line, so it shows on every heatmap colour
    const [halo, line] = [...container.querySelectorAll('polygon')];
    expect([halo.getAttribute('class'), line.getAttribute('class')]).toEqual(['region-halo', 'region-outline']);
    expect(line.getAttribute('points')).toBe('10,10 30,10 30,30 10,30');
    expect(halo.getAttribute('points')).toBe(line.getAttribute('points'));
    fireEvent.click(screen.getByLabelText('Region outlines'));
    expect(screen.queryByTestId('region-outlines')).toBeNull();
    expect(screen.getByTestId('heatmap-legend').textContent).toMatch(/^0.*2× region threshold.*region threshold: regions are outlined from here$/);
  });

  it('offers "false alarm" for an anomalous result only, with the add-to-golden choice', () => {
    const onFalseAlarm = vi.fn();
    const { rerender } = render(<InspectionViewer inspection={inspection('x', 4)} onFalseAlarm={onFalseAlarm} />);
    fireEvent.click(screen.getByRole('button', { name: 'Mark as false alarm' }));
    expect(onFalseAlarm).toHaveBeenLastCalledWith(false);
    fireEvent.click(screen.getByLabelText(/add this image to the golden samples/));
    fireEvent.click(screen.getByRole('button', { name: 'Mark as false alarm' }));
    expect(onFalseAlarm).toHaveBeenLastCalledWith(true);
    rerender(<InspectionViewer inspection={inspection('y', 1)} onFalseAlarm={onFalseAlarm} />);
    expect(screen.queryByRole('button', { name: 'Mark as false alarm' })).toBeNull();
    rerender(<InspectionViewer inspection={inspection('z', 4, { feedback: 'false_alarm' })} onFalseAlarm={onFalseAlarm} />);
    expect(screen.getByTestId('false-alarm-marked')).toBeTruthy();
  });

  it("copies the inspection's link and downloads its overlay from the Share menu", async () => {
    const writeText = vi.fn(async () => {});
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    const { calls } = fakeApi([['GET', /overlay\.png$/, () => ({ body: 'png' })]]);
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    render(<InspectionViewer inspection={inspection('x', 4)} />);
    const openMenu = () => fireEvent.keyDown(screen.getByRole('button', { name: 'Share' }), { key: 'Enter' });
    openMenu();
    fireEvent.click(screen.getByRole('menuitem', { name: 'Copy link' }));
    expect(writeText).toHaveBeenCalledWith(`${window.location.origin}/inspect/tile/x`);
    expect(await screen.findByText('Link copied.')).toBeTruthy();
    expect(screen.queryByRole('menu')).toBeNull();
    openMenu();
    fireEvent.click(screen.getByRole('menuitem', { name: 'Download overlay image' }));
    await waitFor(() => expect(clicked).toHaveBeenCalledTimes(1));
    expect((clicked.mock.contexts[0] as HTMLAnchorElement).download).toBe('x-overlay.png');
    expect(calls.map((c) => c.path)).toEqual(['/v1/products/tile/inspections/x/overlay.png']);
    clicked.mockRestore();
  });

  it('falls back to the bounding box when a region has no polygon', () => {
    const ins = inspection('x', 4);
    ins.regions[0].polygon = [];
    const { container } = render(<InspectionViewer inspection={ins} />);
    const rect = container.querySelector('svg rect')!;
    expect([rect.getAttribute('x'), rect.getAttribute('width')]).toEqual(['10', '20']);
  });
});

describe('charts', () => {
  it('bins scores over 0 .. max(score, 1.5x threshold)', () => {
    const bins = histogram([0.5, 1.0, 5.9, 6.0], 2, 6);
    expect(bins.map((b) => b.count)).toEqual([1, 1, 0, 0, 0, 2]);
    expect(bins[5].hi).toBeCloseTo(6);
  });

  it('draws the threshold line where the threshold falls on the score axis, bins past it anomalous', () => {
    render(<ScoreHistogram scores={[1, 2, 3, 5]} threshold={2.5} />);
    expect(screen.getByTestId('score-histogram').getAttribute('aria-label')).toBe('score distribution of 4 inspections, threshold 2.500');
    const line = screen.getByTestId('threshold-line');
    expect(line.textContent).toBe('threshold 2.500');
    // axis 0 .. 5 over 600 px
    expect(line.style.left).toBe('300px');
    const [, ok, anomalous] = FakePlot.last.data as (number | null)[][];
    expect(ok.reduce((s: number, c) => s + (c ?? 0), 0)).toBe(2);
    expect(anomalous.reduce((s: number, c) => s + (c ?? 0), 0)).toBe(2);
  });

  it('shows the bin under the cursor in a tooltip', () => {
    render(<ScoreHistogram scores={[1, 2, 3, 5]} threshold={2.5} />);
    const plot = FakePlot.last;
    act(() => plot.moveCursor(4, 120, 40));
    const tip = plot.over.querySelector('.chart-tooltip') as HTMLElement;
    expect([tip.hidden, tip.textContent, tip.style.left]).toEqual([false, '0.833 – 1.042: 1', '120px']);
    act(() => plot.moveCursor(null));
    expect(tip.hidden).toBe(true);
  });

  it('puts OK and anomalous counts per day side by side in date order', () => {
    render(
      <DailyBars
        days={[
          { day: '2026-11-27', ok: 3, anomalous: 1 },
          { day: '2026-11-26', ok: 2, anomalous: 0 },
        ]}
      />,
    );
    const plot = FakePlot.last;
    expect(plot.data.slice(1)).toEqual([
      [2, 3],
      [0, 1],
    ]);
    const ticks = (plot.opts.axes![0].values as (u: unknown, t: number[]) => string[])(plot, [0, 0.5, 1, 2]);
    expect(ticks).toEqual(['11-26', '', '11-27', '']);
    act(() => plot.moveCursor(1, 10, 10));
    expect(plot.over.querySelector('.chart-tooltip')!.textContent).toBe('2026-11-27: 3 OK, 1 anomalous');
  });

  it('says so when there is nothing to draw', () => {
    render(<ScoreHistogram scores={[]} threshold={1} />);
    expect(screen.getByText('No inspections yet.')).toBeTruthy();
  });
});

describe('Settings', () => {
  it('stores the API key in localStorage and clears it', () => {
    const onChanged = vi.fn();
    render(<Settings onChanged={onChanged} />);
    fireEvent.click(screen.getByRole('button', { name: 'Settings' }));
    fireEvent.change(screen.getByLabelText('API key'), { target: { value: 'k-123' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(localStorage.getItem('goldenshot.apiKey')).toBe('k-123');
    expect(onChanged).toHaveBeenCalledTimes(1);
    expect(screen.getByRole('button', { name: 'Settings · key set' })).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Clear' }));
    expect(localStorage.getItem('goldenshot.apiKey')).toBeNull();
  });

  it('closes on Escape and on a click outside, giving focus back to its button', async () => {
    render(<Settings onChanged={() => {}} />);
    const button = screen.getByRole('button', { name: 'Settings' });
    fireEvent.click(button);
    expect(screen.getByRole('dialog', { name: 'Settings' })).toBeTruthy();
    fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    expect(screen.queryByRole('dialog', { name: 'Settings' })).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe(button));
    fireEvent.click(button);
    // the popover listens for outside clicks from the next tick on (not to catch the opening click)
    await act(() => new Promise((r) => setTimeout(r, 0)));
    fireEvent.pointerDown(document.body);
    expect(screen.queryByRole('dialog', { name: 'Settings' })).toBeNull();
  });
});

describe('ConfirmButton', () => {
  it('acts only once confirmed in its dialog', () => {
    const onConfirm = vi.fn();
    render(
      <ConfirmButton label="Roll back to v1" title="Roll back tile to v1?" onConfirm={onConfirm}>
        New inspections use v1.
      </ConfirmButton>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Roll back to v1' }));
    const dialog = screen.getByRole('dialog', { name: 'Roll back tile to v1?' });
    expect(dialog.textContent).toContain('New inspections use v1.');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(onConfirm).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: 'Roll back to v1' }));
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Roll back to v1' }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole('dialog')).toBeNull();
  });
});
