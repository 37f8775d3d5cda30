import { useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { keys, RECENT, useInspections, useRecent, useStats } from '../api/queries';
import type { Inspection, Stats } from '../api/types';
import { defaultProduct, useProductList } from '../App';
import { AuthImage } from '../components/AuthImage';
import { DailyBars, Legend, ScoreHistogram } from '../components/Charts';
import { ErrorBanner, Notice } from '../components/ErrorBanner';
import { Loading } from '../components/Loading';
import { NoFingerprint } from '../components/NoFingerprint';
import { ProductPicker } from '../components/ProductPicker';
import { Time } from '../components/Time';
import { fmtScore } from '../format';
import { paths } from '../paths';
import { ExportPanel } from './analytics/ExportPanel';

export function AnalyticsPage() {
  const products = useProductList();
  const navigate = useNavigate();
  const productName = useParams().product ?? defaultProduct(products);
  const product = products.find((p) => p.name === productName) ?? null;
  return (
    <div className="stack-v">
      <div className="card toolbar">
        <ProductPicker products={products} value={product?.name ?? null} onChange={(n) => navigate(paths.analytics(n))} />
      </div>
      {productName && !product && products.length > 0 && (
        <ErrorBanner error={new Error(`There is no product named "${productName}". Choose one above.`)} />
      )}
      {products.length === 0 && (
        <Notice>
          No products yet. <Link to={paths.setup()}>Create one on the Product setup page.</Link>
        </Notice>
      )}
      {product &&
        (product.active_version === null && product.inspection_count === 0 ? (
          <NoFingerprint name={product.name} what="Nothing has been inspected, so there is nothing to chart. Upload photos of good parts and generate a fingerprint first." />
        ) : (
          <ProductAnalytics key={product.name} name={product.name} />
        ))}
    </div>
  );
}

function ProductAnalytics({ name }: { name: string }) {
  const queryClient = useQueryClient();
  const stats = useStats(name);
  const recent = useRecent(name);
  const anomalies = useInspections(name, { decision: 'ANOMALOUS', limit: 12 });
  const error = stats.error ?? recent.error ?? anomalies.error;
  if (!stats.data || !recent.data || !anomalies.data) return <Loading error={error} label="Loading analytics…" />;
  return (
    <Analytics
      name={name}
      stats={stats.data}
      recent={recent.data}
      anomalies={anomalies.data}
      error={error}
      updatedAt={stats.dataUpdatedAt}
      onRefresh={() => void queryClient.invalidateQueries({ queryKey: keys.product(name) })}
    />
  );
}

interface Props {
  name: string;
  stats: Stats;
  recent: Inspection[];
  anomalies: Inspection[];
  error: unknown;
  updatedAt: number;
  onRefresh: () => void;
}

function Analytics({ name, stats, recent, anomalies, error, updatedAt, onRefresh }: Props) {
  const passRate = stats.total > 0 ? (stats.ok / stats.total) * 100 : null;
  return (
    <>
      <ErrorBanner error={error} />
      <section className="card" aria-label="Totals">
        <div className="card-head">
          <h2>{name}</h2>
          <div className="row">
            <span className="muted small">updated <Time iso={new Date(updatedAt).toISOString()} /></span>
            <button type="button" className="btn btn-small" onClick={onRefresh}>
              Refresh
            </button>
          </div>
        </div>
        <dl className="tiles" data-testid="stats">
          <div>
            <dt>Inspections</dt>
            <dd data-testid="stat-total">{stats.total}</dd>
          </div>
          <div className="tile-ok">
            <dt>OK</dt>
            <dd data-testid="stat-ok">{stats.ok}</dd>
          </div>
          <div className="tile-anomalous">
            <dt>Anomalous</dt>
            <dd data-testid="stat-anomalous">{stats.anomalous}</dd>
          </div>
          <div>
            <dt>False alarms</dt>
            <dd>{stats.false_alarms}</dd>
          </div>
          <div>
            <dt>Missed defects</dt>
            <dd data-testid="stat-missed">{stats.labels.missed_defect}</dd>
          </div>
          <div>
            <dt>Pass rate</dt>
            <dd>{passRate === null ? '–' : `${passRate.toFixed(1)} %`}</dd>
          </div>
          <div>
            <dt>Threshold</dt>
            <dd>{fmtScore(stats.threshold)}</dd>
          </div>
        </dl>
      </section>

      <div className="charts">
        <section className="card" aria-label="Score distribution">
          <h3>Score distribution</h3>
          <p className="muted small">
            Last {recent.length} inspections{recent.length >= RECENT ? ` (of ${stats.total})` : ''}; the dashed line is
            the threshold.
          </p>
          <ScoreHistogram scores={recent.map((i) => i.score)} threshold={stats.threshold} />
          <Legend />
        </section>
        <section className="card" aria-label="Pass and fail over time">
          <h3>Pass / fail per day</h3>
          <p className="muted small">Inspections per day (last 30 days with any).</p>
          <DailyBars days={stats.by_day} />
          <Legend />
        </section>
      </div>

      <section className="card" aria-label="Latest anomalies">
        <h3>Latest anomalies</h3>
        {anomalies.length === 0 ? (
          <p className="muted">No anomalous inspections yet.</p>
        ) : (
          <ul className="anomalies" data-testid="latest-anomalies">
            {anomalies.map((a) => (
              <li key={a.id}>
                <Link to={paths.inspect(name, a.id)} className="anomaly" title={`Open ${a.filename}`}>
                  <AuthImage src={a.overlay_url} alt={`overlay ${a.filename}`} loading="lazy" />
                  <div className="anomaly-text">
                    <div className="thumb-caption">{a.filename}</div>
                    <div className="small">
                      score <strong>{fmtScore(a.score)}</strong>
                      <span className="muted"> / {fmtScore(a.threshold)}</span>
                      {a.feedback === 'false_alarm' && <span className="muted"> · false alarm</span>}
                    </div>
                    <div className="muted small"><Time iso={a.created_at} /></div>
                  </div>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </section>
      <ExportPanel name={name} />
    </>
  );
}
