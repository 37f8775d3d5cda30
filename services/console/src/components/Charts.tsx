import { fmtScore } from '../format';

const W = 640;
const H = 240;
const M = { top: 26, right: 16, bottom: 36, left: 44 };
const IW = W - M.left - M.right;
const IH = H - M.top - M.bottom;

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

function niceTicks(max: number, n = 4, integer = false): number[] {
  if (max <= 0) return [0];
  const step0 = integer ? Math.max(1, max / n) : max / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/** Score distribution of recent inspections with the product's threshold as a dashed line. */
export function ScoreHistogram({ scores, threshold }: { scores: number[]; threshold: number | null }) {
  if (scores.length === 0) return <p className="muted">No inspections yet.</p>;
  const bins = histogram(scores, threshold);
  const top = bins[bins.length - 1].hi;
  const maxCount = Math.max(...bins.map((b) => b.count), 1);
  const x = (v: number) => M.left + (v / top) * IW;
  const y = (c: number) => M.top + IH - (c / maxCount) * IH;
  const bw = IW / bins.length;
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`score distribution of ${scores.length} inspections${threshold !== null ? `, threshold ${fmtScore(threshold)}` : ''}`}
      data-testid="score-histogram"
    >
      {niceTicks(maxCount, 4, true).map((t) => (
        <g key={t}>
          <line x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} className="grid" />
          <text x={M.left - 6} y={y(t) + 4} textAnchor="end" className="tick">
            {t}
          </text>
        </g>
      ))}
      {bins.map((b, i) =>
        b.count > 0 ? (
          <rect
            key={i}
            x={M.left + i * bw + 1}
            y={y(b.count)}
            width={Math.max(1, bw - 2)}
            height={M.top + IH - y(b.count)}
            className={threshold !== null && b.lo >= threshold ? 'bar-anomalous' : 'bar-ok'}
          >
            <title>{`${fmtScore(b.lo)} – ${fmtScore(b.hi)}: ${b.count}`}</title>
          </rect>
        ) : null,
      )}
      <line x1={M.left} x2={W - M.right} y1={M.top + IH} y2={M.top + IH} className="axis" />
      {niceTicks(top, 5).map((t) => (
        <text key={t} x={x(t)} y={H - M.bottom + 16} textAnchor="middle" className="tick">
          {String(Number(t.toPrecision(4)))}
        </text>
      ))}
      <text x={M.left + IW / 2} y={H - 4} textAnchor="middle" className="axis-label">
        anomaly score
      </text>
      {threshold !== null && (
        <g data-testid="threshold-line">
          <line x1={x(threshold)} x2={x(threshold)} y1={M.top} y2={M.top + IH} className="threshold" />
          <text
            x={x(threshold)}
            y={M.top - 8}
            textAnchor={x(threshold) > W * 0.75 ? 'end' : x(threshold) < W * 0.25 ? 'start' : 'middle'}
            className="threshold-label"
          >
            threshold {fmtScore(threshold)}
          </text>
        </g>
      )}
    </svg>
  );
}

/** OK / ANOMALOUS counts per day, stacked bars. */
export function DailyBars({ days }: { days: { day: string; ok: number; anomalous: number }[] }) {
  if (days.length === 0) return <p className="muted">No inspections yet.</p>;
  const sorted = [...days].sort((a, b) => a.day.localeCompare(b.day)).slice(-30);
  const maxCount = Math.max(...sorted.map((d) => d.ok + d.anomalous), 1);
  const y = (c: number) => M.top + IH - (c / maxCount) * IH;
  const bw = IW / Math.max(sorted.length, 7);
  const labelEvery = Math.ceil(sorted.length / 8);
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="pass and fail counts per day" data-testid="daily-bars">
      {niceTicks(maxCount, 4, true).map((t) => (
        <g key={t}>
          <line x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} className="grid" />
          <text x={M.left - 6} y={y(t) + 4} textAnchor="end" className="tick">
            {t}
          </text>
        </g>
      ))}
      {sorted.map((d, i) => {
        const x0 = M.left + i * bw + bw * 0.15;
        const w = bw * 0.7;
        return (
          <g key={d.day}>
            <rect x={x0} y={y(d.ok)} width={w} height={M.top + IH - y(d.ok)} className="bar-ok">
              <title>{`${d.day}: ${d.ok} OK`}</title>
            </rect>
            <rect x={x0} y={y(d.ok + d.anomalous)} width={w} height={y(d.ok) - y(d.ok + d.anomalous)} className="bar-anomalous">
              <title>{`${d.day}: ${d.anomalous} anomalous`}</title>
            </rect>
            {i % labelEvery === 0 && (
              <text x={x0 + w / 2} y={H - M.bottom + 16} textAnchor="middle" className="tick">
                {d.day.slice(5)}
              </text>
            )}
          </g>
        );
      })}
      <line x1={M.left} x2={W - M.right} y1={M.top + IH} y2={M.top + IH} className="axis" />
    </svg>
  );
}

export function Legend() {
  return (
    <div className="legend">
      <span className="swatch bar-ok" /> OK <span className="swatch bar-anomalous" /> ANOMALOUS
    </div>
  );
}
