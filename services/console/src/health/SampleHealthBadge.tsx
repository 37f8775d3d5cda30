import type { SampleHealth } from '../api/health';
import { fmtScore } from '../format';
import './health.css';

const WARNING: Record<string, string> = {
  outlier: 'unlike the others',
  left_out: 'left out',
};

/** A golden sample's leave-one-out score in the active version, and a warning when it is an outlier. */
export function SampleHealthBadge({ health }: { health: SampleHealth | undefined }) {
  if (!health || health.score === null) return null;
  const warning = WARNING[health.status];
  return (
    <div className="sample-health small" data-testid="sample-health">
      <span title="leave-one-out score: how unlike the other golden samples this one is">LOO {fmtScore(health.score)}</span>
      {warning && (
        <span className="badge badge-warn" title={`${fmtScore(health.ratio)} × the median of the other samples`}>
          ⚠ {warning}
        </span>
      )}
    </div>
  );
}
