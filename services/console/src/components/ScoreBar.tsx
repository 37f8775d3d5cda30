import type { Version } from '../api/types';
import { fmtScore } from '../format';

type GoldenScores = Version['golden_scores'];

/** The score on a bar whose scale runs 0 .. 2x threshold (or past the score), threshold marked, and the
 * golden samples' own (leave-one-out) scores shaded: a bare number means nothing to a new user, a score
 * seen beside what good parts score and where the line is drawn does. */
export function ScoreBar({ score, threshold, golden }: { score: number; threshold: number; golden?: GoldenScores | null }) {
  const spread = golden?.mean != null && golden.max != null ? { low: Math.max(0, golden.mean - (golden.std ?? 0)), high: golden.max } : null;
  const top = Math.max(threshold * 2, score * 1.1, (spread?.high ?? 0) * 1.1, 1e-9);
  const frac = (x: number) => Math.min(1, Math.max(0, x / top));
  const at = (x: number) => `${frac(x) * 100}%`;
  const over = score > threshold;
  const ratio = threshold > 0 ? score / threshold : NaN;
  return (
    <div className="scorebar" aria-label={`score ${fmtScore(score)}, threshold ${fmtScore(threshold)}`}>
      <div className="scorebar-track">
        {spread && (
          <div
            className="scorebar-golden"
            data-testid="golden-spread"
            style={{ left: at(spread.low), width: `${(frac(spread.high) - frac(spread.low)) * 100}%` }}
            title="golden samples' scores"
          />
        )}
        <div className={`scorebar-fill ${over ? 'over' : 'under'}`} style={{ width: at(score) }} />
        <div className="scorebar-threshold" style={{ left: at(threshold) }} title="threshold" />
      </div>
      <div className="scorebar-text">
        score <strong data-testid="score">{fmtScore(score)}</strong> {over ? '>' : '≤'} threshold{' '}
        <strong>{fmtScore(threshold)}</strong>
        {Number.isFinite(ratio) && <span className="muted"> ({(ratio * 100).toFixed(0)} % of threshold)</span>}
      </div>
      {spread && (
        <div className="muted small" data-testid="golden-spread-text">
          <span className="scorebar-key" aria-hidden="true" /> good parts (the golden samples) scored {fmtScore(spread.low)}–
          {fmtScore(spread.high)}; the further a score lies above them, the less the part looks like them.
        </div>
      )}
    </div>
  );
}
