import { Link } from 'react-router';
import { ApiError } from '../../api/client';
import { useVersionSamples } from '../../api/health';
import { isFinished, useGolden, useProduct } from '../../api/queries';
import type { Product } from '../../api/types';
import { ErrorBanner, Notice } from '../../components/ErrorBanner';
import { Loading } from '../../components/Loading';
import { Time } from '../../components/Time';
import { fmtScore } from '../../format';
import { DriftBanner } from '../../health/DriftBanner';
import { IgnoreMaskEditor } from '../../health/IgnoreMaskEditor';
import { VersionSamples } from '../../health/VersionSamples';
import { paths } from '../../paths';
import { Fingerprint } from './Fingerprint';
import { GoldenSamples } from './GoldenSamples';
import { Replay } from './Replay';
import { ThresholdTuning } from './ThresholdTuning';

/** One product: its status, golden samples and fingerprint versions (`version` from the URL is shown in full). */
export function ProductSetup({ name, version }: { name: string; version: number | null }) {
  const product = useProduct(name);
  const golden = useGolden(name);
  const active = product.data?.active_version ?? null;
  const health = useVersionSamples(name, active).data?.items;
  if (product.error instanceof ApiError && product.error.code === 'not_found') {
    return (
      <div className="card">
        <ErrorBanner error={new Error(`There is no product named "${name}". It may have been deleted.`)} />
        <Link className="btn" to={paths.setup()}>
          Create a product
        </Link>
      </div>
    );
  }
  if (!product.data || !golden.data) return <Loading error={product.error ?? golden.error} label="Loading product…" />;
  const building = product.data.building !== null && !isFinished(product.data.building);
  const shown = version ?? active; // the version the tuning panel and the sample list work on
  return (
    <div className="stack-v">
      <DriftBanner name={name} />
      <ProductStatus product={product.data} goldenCount={golden.data.length} building={building} />
      <GoldenSamples name={name} samples={golden.data} building={building} health={health} />
      <Fingerprint product={product.data} goldenCount={golden.data.length} shown={version} />
      {version !== null && <Replay key={version} name={name} version={version} active={version === active} />}
      {shown !== null && <ThresholdTuning name={name} version={shown} />}
      {shown !== null && <VersionSamples key={shown} name={name} version={shown} />}
      <IgnoreMaskEditor name={name} samples={golden.data} />
    </div>
  );
}

function ProductStatus({ product, goldenCount, building }: { product: Product; goldenCount: number; building: boolean }) {
  const fp = product.fingerprint;
  return (
    <section className="card" aria-label="Product status">
      <div className="card-head">
        <div>
          <h2 data-testid="product-title">{product.name}</h2>
          {product.description && <p className="muted">{product.description}</p>}
        </div>
        <div className="row">
          <Link className="btn" to={paths.inspect(product.name)}>
            Inspect
          </Link>
          <Link className="btn" to={paths.analytics(product.name)}>
            Analytics
          </Link>
        </div>
      </div>
      <dl className="facts" data-testid="product-status">
        <div>
          <dt>Fingerprint</dt>
          <dd data-testid="status-version">{fp ? `v${fp.version}` : 'none yet'}</dd>
        </div>
        <div>
          <dt>Threshold</dt>
          <dd>
            {fp ? fmtScore(fp.threshold) : '–'}
            {fp?.threshold_source && <span className="muted small"> ({fp.threshold_source})</span>}
            {fp?.target_fpr != null && <span className="muted small"> aiming at {Math.round(fp.target_fpr * 100)} % false alarms</span>}
          </dd>
        </div>
        {fp?.selfconfig && (
          <div>
            <dt>Configuration</dt>
            <dd data-testid="status-selfconfig">
              {fp.selfconfig.chosen}
              <span className="muted small">
                {' '}(chosen on {fp.selfconfig.defects} synthetic defects
                {fp.selfconfig.detected != null && `, ${Math.round(fp.selfconfig.detected * 100)} % of them caught`})
              </span>
            </dd>
          </div>
        )}
        {fp && fp.strays.length > 0 && (
          <div>
            <dt>Left out</dt>
            <dd data-testid="status-strays">
              {fp.strays.map((s) => s.name).join(', ')}
              <span className="muted small"> (unlike the other golden samples)</span>
            </dd>
          </div>
        )}
        <div>
          <dt>Golden samples</dt>
          <dd>
            {goldenCount}
            {fp && <span className="muted small"> ({fp.golden_count} in v{fp.version})</span>}
          </dd>
        </div>
        <div>
          <dt>Built at</dt>
          <dd>
            <Time iso={fp?.created_at} />
            {fp?.build_seconds != null && <span className="muted small"> in {fp.build_seconds.toFixed(1)} s</span>}
          </dd>
        </div>
        <div>
          <dt>Inspections</dt>
          <dd>{product.inspection_count}</dd>
        </div>
      </dl>
      {fp && fp.golden_count !== goldenCount && !building && (
        <Notice>The golden samples changed since v{fp.version} was built. Generate a new fingerprint to use them.</Notice>
      )}
    </section>
  );
}
