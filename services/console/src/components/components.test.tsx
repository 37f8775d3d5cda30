import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { inspection } from '../test/fakeApi';
import { DailyBars, histogram, ScoreHistogram } from './Charts';
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
    fireEvent.change(screen.getByLabelText('Heatmap opacity'), { target: { value: '20' } });
    expect(heat.style.opacity).toBe('0.2');
    const svg = screen.getByTestId('region-outlines');
    expect(svg.getAttribute('viewBox')).toBe('0 0 200 100');
    expect(container.querySelector('polygon')!.getAttribute('points')).toBe('10,10 30,10 30,30 10,30');
    fireEvent.click(screen.getByLabelText('Region outlines'));
    expect(screen.queryByTestId('region-outlines')).toBeNull();
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

  it('draws the threshold line where the threshold falls on the score axis', () => {
    render(<ScoreHistogram scores={[1, 2, 3, 5]} threshold={2.5} />);
    const svg = screen.getByTestId('score-histogram');
    expect(svg.getAttribute('aria-label')).toBe('score distribution of 4 inspections, threshold 2.500');
    const line = within(screen.getByTestId('threshold-line') as unknown as HTMLElement).getByText(/threshold 2.500/);
    expect(line).toBeTruthy();
    const x = Number(screen.getByTestId('threshold-line').querySelector('line')!.getAttribute('x1'));
    // axis 0..5 over 44..624 px
    expect(x).toBeCloseTo(44 + (2.5 / 5) * 580);
    expect(svg.querySelectorAll('rect.bar-anomalous').length).toBe(2);
  });

  it('stacks OK and anomalous counts per day in date order', () => {
    const { container } = render(
      <DailyBars
        days={[
          { day: '2026-11-27', ok: 3, anomalous: 1 },
          { day: '2026-11-26', ok: 2, anomalous: 0 },
        ]}
      />,
    );
    const titles = Array.from(container.querySelectorAll('rect title')).map((t) => t.textContent);
    expect(titles).toEqual(['2026-11-26: 2 OK', '2026-11-26: 0 anomalous', '2026-11-27: 3 OK', '2026-11-27: 1 anomalous']);
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
});
