import { useVersionSamples } from '../api/health';
import { ErrorBanner } from '../components/ErrorBanner';
import { fmtScore, plural } from '../format';
import './health.css';

const STATUS: Record<string, string> = {
  ok: 'ok',
  outlier: '⚠ unlike the others',
  left_out: '⚠ left out of the bank',
  unscored: 'not scored alone',
};

/** The golden samples a version was built from, each with its leave-one-out score and status. */
export function VersionSamples({ name, version }: { name: string; version: number }) {
  const samples = useVersionSamples(name, version);
  if (samples.error) return <ErrorBanner error={samples.error} />;
  if (!samples.data) return null;
  const { items, outlier_ratio } = samples.data;
  const flagged = items.filter((s) => s.status === 'outlier' || s.status === 'left_out');
  return (
    <section className="card" aria-label={`Golden samples of v${version}`} data-testid="version-samples">
      <h3>
        Golden samples of v{version} <span className="muted small">({plural(items.length, 'sample')})</span>
      </h3>
      {flagged.length > 0 && (
        <p className="error-text small" data-testid="version-outliers">
          {flagged.map((s) => s.name).join(', ')}: unlike the other samples (leave-one-out score {fmtScore(outlier_ratio)} × theirs or more). A
          photo of another product or a bad photo raises the threshold; remove it and generate again.
        </p>
      )}
      <div className="table-wrap">
        <table className="versions">
          <thead>
            <tr>
              <th scope="col">Sample</th>
              <th scope="col">Leave-one-out score</th>
              <th scope="col">× the others</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.sha256} className={s.status === 'ok' || s.status === 'unscored' ? undefined : 'row-warn'}>
                <td>
                  {s.name}
                  {s.golden_id === null && <span className="muted small"> (removed since)</span>}
                </td>
                <td className="num">{fmtScore(s.score)}</td>
                <td className="num">{fmtScore(s.ratio)}</td>
                <td>{STATUS[s.status]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
