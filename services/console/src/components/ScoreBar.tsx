import { fmtScore } from '../format';

/** The score on a bar whose scale runs 0 .. 2x threshold (or past the score), threshold marked. */
export function ScoreBar({ score, threshold }: { score: number; threshold: number }) {
  const top = Math.max(threshold * 2, score * 1.1, 1e-9);
  const s = Math.min(1, Math.max(0, score / top));
  const t = Math.min(1, Math.max(0, threshold / top));
  const over = score > threshold;
  const ratio = threshold > 0 ? score / threshold : NaN;
  return (
    <div className="scorebar" aria-label={`score ${fmtScore(score)}, threshold ${fmtScore(threshold)}`}>
      <div className="scorebar-track">
        <div className={`scorebar-fill ${over ? 'over' : 'under'}`} style={{ width: `${s * 100}%` }} />
        <div className="scorebar-threshold" style={{ left: `${t * 100}%` }} title="threshold" />
      </div>
      <div className="scorebar-text">
        score <strong data-testid="score">{fmtScore(score)}</strong> {over ? '>' : '≤'} threshold{' '}
        <strong>{fmtScore(threshold)}</strong>
        {Number.isFinite(ratio) && <span className="muted"> ({(ratio * 100).toFixed(0)} % of threshold)</span>}
      </div>
    </div>
  );
}
