import { useDrift } from '../api/health';
import { fmtScore } from '../format';
import './health.css';

/** A warning on the product when the scores of its good parts have moved away from the golden samples'. */
export function DriftBanner({ name }: { name: string }) {
  const drift = useDrift(name).data;
  if (!drift?.flagged || drift.ratio === null) return null;
  return (
    <div className="banner banner-warn" role="status" data-testid="drift-banner">
      <div>
        <strong>Scores of good parts have moved: camera, light or supplier changed?</strong>
        <p className="small">
          The median score of the last {drift.inspections} inspections is {fmtScore(drift.ratio)} × the golden samples' (
          {fmtScore(drift.recent_median)} against {fmtScore(drift.golden_median)}; flagged {drift.direction === 'up' ? 'at' : 'below'}{' '}
          {fmtScore(drift.direction === 'up' ? drift.high : drift.low)} ×). Check the line; if the change is meant to stay, take new golden
          samples and generate a new fingerprint.
        </p>
      </div>
    </div>
  );
}
