import { useMemo } from 'react';
import uPlot from 'uplot';
import { fmtScore } from '../format';
import { Chart, type ChartOptions, markerLine, tooltip } from './Chart';

const OK = '#4caf7a';
const ANOMALOUS = '#e0574d';
const AXIS = { stroke: '#5d6978', grid: { stroke: '#eceff2' }, ticks: { stroke: '#d9dee4' } };

export interface Bin {
  lo: number;
  hi: number;
  count: number;
}

/** Equal-width bins over 0 .. max(scores, 1.5x threshold). */
export function histogram(scores: number[], threshold: number | null, bins = 24): Bin[] {
  const top = Math.max(...scores, threshold !== null ? threshold * 1.5 : 0, 1e-6);
  const w = top / bins;
  const out: Bin[] = Array.from({ length: bins }, (_, i) => ({ lo: i * w, hi: (i + 1) * w, count: 0 }));
  for (const s of scores) {
    if (!Number.isFinite(s)) continue;
    const i = Math.min(bins - 1, Math.max(0, Math.floor(s / w)));
    out[i].count += 1;
  }
  return out;
}

const bars = (size: number, align: -1 | 0 | 1) => uPlot.paths.bars!({ size: [size, Infinity], align });
const counts = (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max)];

/** uPlot's data and options for a score distribution: bins below the threshold OK, above ANOMALOUS. */
export function histogramChart(scores: number[], threshold: number | null): { data: uPlot.AlignedData; options: ChartOptions } {
  const bins = histogram(scores, threshold);
  const over = (b: Bin) => threshold !== null && b.lo >= threshold;
  const data: uPlot.AlignedData = [
    bins.map((b) => (b.lo + b.hi) / 2),
    bins.map((b) => (over(b) ? null : b.count)),
    bins.map((b) => (over(b) ? b.count : null)),
  ];
  const options: ChartOptions = {
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: [0, bins[bins.length - 1].hi] }, y: { range: counts } },
    axes: [
      { ...AXIS, label: 'anomaly score', values: (_u, ticks) => ticks.map((t) => String(Number(t.toPrecision(4)))) },
      { ...AXIS, label: 'inspections' },
    ],
    series: [{}, { label: 'OK', fill: OK, stroke: OK, paths: bars(0.9, 0) }, { label: 'ANOMALOUS', fill: ANOMALOUS, stroke: ANOMALOUS, paths: bars(0.9, 0) }],
    plugins: [
      tooltip((i) => `${fmtScore(bins[i].lo)} – ${fmtScore(bins[i].hi)}: ${bins[i].count}`),
      ...(threshold !== null ? [markerLine(threshold, `threshold ${fmtScore(threshold)}`)] : []),
    ],
  };
  return { data, options };
}

/** Score distribution of recent inspections with the product's threshold as a dashed line. */
export function ScoreHistogram({ scores, threshold }: { scores: number[]; threshold: number | null }) {
  const { data, options } = useMemo(() => histogramChart(scores, threshold), [scores, threshold]);
  if (scores.length === 0) return <p className="muted">No inspections yet.</p>;
  const label = `score distribution of ${scores.length} inspections${threshold !== null ? `, threshold ${fmtScore(threshold)}` : ''}`;
  return <Chart data={data} options={options} label={label} testId="score-histogram" />;
}

type Day = { day: string; ok: number; anomalous: number };

/** uPlot's data and options for OK / ANOMALOUS counts per day (the last 30 days with any), side by side. */
export function dailyChart(days: Day[]): { data: uPlot.AlignedData; options: ChartOptions } {
  const sorted = [...days].sort((a, b) => a.day.localeCompare(b.day)).slice(-30);
  const data: uPlot.AlignedData = [sorted.map((_, i) => i), sorted.map((d) => d.ok), sorted.map((d) => d.anomalous)];
  const options: ChartOptions = {
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: [-0.5, Math.max(sorted.length, 7) - 0.5] }, y: { range: counts } },
    axes: [
      { ...AXIS, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) && sorted[t] ? sorted[t].day.slice(5) : '')) },
      { ...AXIS, label: 'inspections' },
    ],
    series: [{}, { label: 'OK', fill: OK, stroke: OK, paths: bars(0.4, 1) }, { label: 'ANOMALOUS', fill: ANOMALOUS, stroke: ANOMALOUS, paths: bars(0.4, -1) }],
    plugins: [tooltip((i) => `${sorted[i].day}: ${sorted[i].ok} OK, ${sorted[i].anomalous} anomalous`)],
  };
  return { data, options };
}

/** OK / ANOMALOUS counts per day. */
export function DailyBars({ days }: { days: Day[] }) {
  const { data, options } = useMemo(() => dailyChart(days), [days]);
  if (days.length === 0) return <p className="muted">No inspections yet.</p>;
  return <Chart data={data} options={options} label="pass and fail counts per day" testId="daily-bars" />;
}

export function Legend() {
  return (
    <div className="legend">
      <span className="swatch bar-ok" /> OK <span className="swatch bar-anomalous" /> ANOMALOUS
    </div>
  );
}
