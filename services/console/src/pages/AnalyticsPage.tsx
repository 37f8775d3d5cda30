import { useCallback, useEffect, useRef, useState } from 'react';
import { api, listAllInspections } from '../api/client';
import type { Inspection, Product, Stats } from '../api/types';
import { AuthImage } from '../components/AuthImage';
import { DailyBars, Legend, ScoreHistogram } from '../components/Charts';
import { ErrorBanner, Notice } from '../components/ErrorBanner';
import { ProductPicker } from '../components/ProductPicker';
import { ProgressBar } from '../components/ProgressBar';
import { fmtScore, fmtTime } from '../format';
import { href, navigate } from '../route';

/** How many recent inspections the score distribution is drawn from. */
export const RECENT = 500;
const REFRESH_MS = 30_000;

interface Props {
  products: Product[];
  productName: string | null;
}

export function AnalyticsPage({ products, productName }: Props) {
  const product = products.find((p) => p.name === productName) ?? null;
  return (
    <div className="stack-v">
      <div className="card toolbar">
        <ProductPicker products={products} value={product?.name ?? null} onChange={(n) => navigate('analytics', n)} />
      </div>
      {productName && !product && products.length > 0 && (
        <ErrorBanner error={new Error(`There is no product named "${productName}". Choose one above.`)} />
      )}
      {!productName && products.length === 0 && (
        <Notice>
          No products yet. <a href={href('setup')}>Create one on the Product setup page.</a>
        </Notice>
      )}
      {product && <ProductAnalytics key={product.name} name={product.name} />}
    </div>
  );
}

function ProductAnalytics({ name }: { name: string }) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [recent, setRecent] = useState<Inspection[] | null>(null);
  const [anomalies, setAnomalies] = useState<Inspection[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loadedAt, setLoadedAt] = useState<Date | null>(null);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  const load = useCallback(async () => {
    try {
      const [s, r, a] = await Promise.all([
        api.stats(name),
        listAllInspections(name, {}, RECENT),
        api.listInspections(name, { decision: 'ANOMALOUS', limit: 12 }),
      ]);
      if (!alive.current) return;
      setStats(s);
      setRecent(r);
      setAnomalies(a.items);
      setLoadedAt(new Date());
      setError(null);
    } catch (e) {
      if (alive.current) setError(e);
    }
  }, [name]);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [load]);

  if (!stats || !recent) {
    return (
      <div className="card">
        <ErrorBanner error={error} />
        {!error && <ProgressBar label="Loading analytics…" />}
      </div>
    );
  }
  const passRate = stats.total > 0 ? (stats.ok / stats.total) * 100 : null;
  return (
    <>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <section className="card" aria-label="Totals">
        <div className="card-head">
          <h2>{name}</h2>
          <div className="row">
            <span className="muted small">updated {loadedAt ? fmtTime(loadedAt.toISOString()) : ''}</span>
            <button type="button" className="btn btn-small" onClick={() => void load()}>
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
                <a href={href('inspect', name, a.id)} className="anomaly" title={`Open ${a.filename}`}>
                  <AuthImage src={a.overlay_url} alt={`overlay ${a.filename}`} loading="lazy" />
                  <div className="anomaly-text">
                    <div className="thumb-caption">{a.filename}</div>
                    <div className="small">
                      score <strong>{fmtScore(a.score)}</strong>
                      <span className="muted"> / {fmtScore(a.threshold)}</span>
                      {a.feedback === 'false_alarm' && <span className="muted"> · false alarm</span>}
                    </div>
                    <div className="muted small">{fmtTime(a.created_at)}</div>
                  </div>
                </a>
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
