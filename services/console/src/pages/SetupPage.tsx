import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, NAME_PATTERN, plainMessage, waitForJob } from '../api/client';
import type { Golden, Job, Product, Version } from '../api/types';
import { AuthImage } from '../components/AuthImage';
import { Dropzone } from '../components/Dropzone';
import { ErrorBanner, Notice } from '../components/ErrorBanner';
import { ProgressBar } from '../components/ProgressBar';
import { fmtScore, fmtTime, plural } from '../format';
import { href, navigate } from '../route';

interface Props {
  products: Product[];
  productName: string | null;
  reloadProducts: () => Promise<void>;
}

export function SetupPage({ products, productName, reloadProducts }: Props) {
  return (
    <div className="setup-layout">
      <aside className="card product-list" aria-label="Products">
        <div className="card-head">
          <h2>Products</h2>
          <a className="btn btn-small" href={href('setup')}>
            New product
          </a>
        </div>
        {products.length === 0 ? (
          <p className="muted">No products yet. Create the first one.</p>
        ) : (
          <ul>
            {products.map((p) => (
              <li key={p.name}>
                <a href={href('setup', p.name)} className={p.name === productName ? 'active' : undefined}>
                  <span className="product-name">{p.name}</span>
                  <span className="muted small">
                    {p.active_version !== null ? `v${p.active_version}` : 'no fingerprint'} ·{' '}
                    {plural(p.golden_count, 'sample')}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        )}
      </aside>
      <div className="setup-main">
        {productName ? (
          <ProductSetup key={productName} name={productName} reloadProducts={reloadProducts} />
        ) : (
          <CreateProduct reloadProducts={reloadProducts} />
        )}
      </div>
    </div>
  );
}

export function CreateProduct({ reloadProducts }: { reloadProducts: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const nameOk = NAME_PATTERN.test(name);

  return (
    <form
      className="card"
      aria-label="Create a product"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!nameOk) {
          setError(new Error('The name must start with a lowercase letter or digit and use only a-z, 0-9 and "-" (at most 63 characters).'));
          return;
        }
        setBusy(true);
        setError(null);
        try {
          await api.createProduct(name, description.trim());
          await reloadProducts();
          navigate('setup', name);
        } catch (err) {
          if (err instanceof ApiError && err.code === 'conflict') {
            setError(new Error(`A product named "${name}" already exists. Choose another name or open it from the list.`));
          } else setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Create a product</h2>
      <p className="muted">
        A product is one kind of part. Give it a short name, then upload 2–20 photos of good parts (golden samples) and
        generate its fingerprint.
      </p>
      <label className="field">
        Name
        <input
          name="name"
          value={name}
          onChange={(e) => setName(e.target.value.toLowerCase())}
          placeholder="e.g. magnetic-tile"
          aria-invalid={name !== '' && !nameOk}
          required
          maxLength={63}
        />
        <span className={`small ${name !== '' && !nameOk ? 'error-text' : 'muted'}`}>
          lowercase letters, digits and "-", starting with a letter or digit
        </span>
      </label>
      <label className="field">
        Description
        <textarea
          name="description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          rows={2}
          placeholder="What the part is, which line or camera"
        />
      </label>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <button type="submit" className="btn btn-primary" disabled={busy || name === ''}>
        {busy ? 'Creating…' : 'Create product'}
      </button>
    </form>
  );
}

// The stages the server reports (services/builder, goldenshot.fewshot.fit, services/scorer/batch).
const STAGES: Record<string, string> = {
  queued: 'Waiting to start',
  loading: 'Reading golden samples',
  features: 'Extracting features',
  coreset: 'Selecting the coreset',
  threshold: 'Computing the threshold',
  storing: 'Storing the fingerprint',
  inspecting: 'Inspecting',
  done: 'Done',
  failed: 'Failed',
};

// A build reports done/total per stage; these shares of the bar make it move forward only.
const BUILD_SPAN: Record<string, [number, number]> = {
  loading: [0, 0.1],
  features: [0.1, 0.65],
  coreset: [0.65, 0.85],
  threshold: [0.85, 0.9],
  storing: [0.9, 1],
};

export function jobLabel(job: Job): string {
  if (job.state === 'queued') return 'Waiting to start…';
  const stage = job.progress?.stage ?? '';
  const what = STAGES[stage] ?? (stage ? stage[0].toUpperCase() + stage.slice(1) : 'Working');
  const { done, total } = job.progress ?? {};
  return typeof done === 'number' && typeof total === 'number' && total > 0 ? `${what} (${done} of ${total})` : `${what}…`;
}

export function jobFraction(job: Job): number | null {
  const pr = job.progress;
  if (job.state === 'succeeded') return 1;
  if (!pr) return null;
  let f: number | null = null;
  if (typeof pr.done === 'number' && typeof pr.total === 'number' && pr.total > 0) f = pr.done / pr.total;
  else if (typeof pr.fraction === 'number') f = pr.fraction;
  const span = job.kind === 'build' && pr.stage ? BUILD_SPAN[pr.stage] : undefined;
  if (span) return span[0] + (span[1] - span[0]) * (f ?? 0);
  return f;
}

function ProductSetup({ name, reloadProducts }: { name: string; reloadProducts: () => Promise<void> }) {
  const [product, setProduct] = useState<Product | null>(null);
  const [golden, setGolden] = useState<Golden[]>([]);
  const [versions, setVersions] = useState<Version[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [uploading, setUploading] = useState(0);
  const [removing, setRemoving] = useState<string | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const [threshold, setThreshold] = useState('');
  const [activating, setActivating] = useState<number | null>(null);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  const load = useCallback(async () => {
    try {
      const [p, g, v] = await Promise.all([api.getProduct(name), api.listGolden(name), api.listVersions(name)]);
      if (!alive.current) return;
      setProduct(p);
      setGolden(g.items);
      setVersions(v.items);
      if (p.building && (p.building.state === 'queued' || p.building.state === 'running')) {
        setJob((cur) => cur ?? p.building);
      }
    } catch (e) {
      if (!alive.current) return;
      if (e instanceof ApiError && e.code === 'not_found') setMissing(true);
      else setError(e);
    }
  }, [name]);

  useEffect(() => {
    void load();
  }, [load]);

  // Follow a running build until it ends, then show the new version.
  const jobId = job && (job.state === 'queued' || job.state === 'running') ? job.id : null;
  useEffect(() => {
    if (!jobId) return;
    let cancelled = false;
    waitForJob(jobId, (j) => !cancelled && setJob(j), { isCancelled: () => cancelled })
      .then(async (done) => {
        if (cancelled) return;
        if (done.state === 'succeeded') {
          const v = (done.result as { version?: number } | null)?.version;
          setNotice(v ? `Fingerprint v${v} is built and active.` : 'The fingerprint is built.');
        } else if (done.error) {
          setError(new Error(`The fingerprint could not be built: ${plainMessage(0, done.error.code, done.error.message)}`));
        } else {
          setError(new Error('The fingerprint could not be built.'));
        }
        await load();
        await reloadProducts();
      })
      .catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [jobId, load, reloadProducts]);

  if (missing) {
    return (
      <div className="card">
        <ErrorBanner error={new Error(`There is no product named "${name}". It may have been deleted.`)} />
        <a className="btn" href={href('setup')}>
          Create a product
        </a>
      </div>
    );
  }
  if (!product) {
    return (
      <div className="card">
        <ErrorBanner error={error} />
        {!error && <ProgressBar label="Loading product…" />}
      </div>
    );
  }

  const building = job !== null && (job.state === 'queued' || job.state === 'running');
  const fp = product.fingerprint;
  const stale = fp !== null && fp.golden_count !== golden.length;

  const upload = async (files: File[]) => {
    setError(null);
    setNotice(null);
    setUploading(files.length);
    try {
      const res = await api.uploadGolden(name, files);
      const added = res.items.length;
      const dup = res.duplicates ?? [];
      setNotice(
        `${plural(added, 'golden sample')} added.` +
          (dup.length ? ` Already among the samples, skipped: ${dup.join(', ')}.` : ''),
      );
      await load();
      await reloadProducts();
    } catch (e) {
      setError(e);
    } finally {
      setUploading(0);
    }
  };

  const remove = async (g: Golden) => {
    setError(null);
    setRemoving(g.id);
    try {
      await api.deleteGolden(name, g.id);
      setGolden((cur) => cur.filter((x) => x.id !== g.id));
      await load();
      await reloadProducts();
    } catch (e) {
      setError(e);
    } finally {
      setRemoving(null);
    }
  };

  const build = async () => {
    setError(null);
    setNotice(null);
    let t: number | undefined;
    if (threshold.trim() !== '') {
      t = Number(threshold);
      if (!Number.isFinite(t) || t <= 0) {
        setError(new Error('The threshold must be a positive number, or left empty to derive it from the golden samples.'));
        return;
      }
    }
    try {
      setJob(await api.buildFingerprint(name, t));
    } catch (e) {
      setError(e);
    }
  };

  const activate = async (v: Version) => {
    setError(null);
    setNotice(null);
    setActivating(v.version);
    try {
      await api.activateVersion(name, v.version);
      setNotice(`Fingerprint v${v.version} is now active. New inspections use it.`);
      await load();
      await reloadProducts();
    } catch (e) {
      setError(e);
    } finally {
      setActivating(null);
    }
  };

  return (
    <div className="stack-v">
      <section className="card" aria-label="Product status">
        <div className="card-head">
          <div>
            <h2 data-testid="product-title">{product.name}</h2>
            {product.description && <p className="muted">{product.description}</p>}
          </div>
          <div className="row">
            <a className="btn" href={href('inspect', name)}>
              Inspect
            </a>
            <a className="btn" href={href('analytics', name)}>
              Analytics
            </a>
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
          {fp?.strays && fp.strays.length > 0 && (
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
              {golden.length}
              {fp && <span className="muted small"> ({fp.golden_count} in v{fp.version})</span>}
            </dd>
          </div>
          <div>
            <dt>Built at</dt>
            <dd>
              {fp ? fmtTime(fp.created_at) : '–'}
              {fp?.build_seconds != null && <span className="muted small"> in {fp.build_seconds.toFixed(1)} s</span>}
            </dd>
          </div>
          <div>
            <dt>Inspections</dt>
            <dd>{product.inspection_count}</dd>
          </div>
        </dl>
        {stale && !building && (
          <Notice>The golden samples changed since v{fp!.version} was built. Generate a new fingerprint to use them.</Notice>
        )}
      </section>

      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {notice && <Notice>{notice}</Notice>}

      <section className="card" aria-label="Golden samples">
        <div className="card-head">
          <h2>
            Golden samples <span className="count" data-testid="golden-count">{golden.length}</span>
          </h2>
        </div>
        <Dropzone
          testId="golden-drop"
          label="Drop photos of good parts here, or click to choose"
          hint="2–20 images; JPEG, PNG, BMP or TIFF. Duplicates are skipped."
          disabled={uploading > 0}
          onFiles={upload}
          onRejected={(names) => setError(new Error(`Not images, left out: ${names.join(', ')}.`))}
        />
        {uploading > 0 && <ProgressBar label={`Uploading ${plural(uploading, 'image')}…`} />}
        {golden.length > 0 && (
          <ul className="thumbs" data-testid="golden-thumbs">
            {golden.map((g) => (
              <li key={g.id} className="thumb">
                <AuthImage src={g.image_url} alt={g.filename} loading="lazy" />
                <div className="thumb-caption" title={g.filename}>
                  {g.filename}
                </div>
                <button
                  type="button"
                  className="thumb-remove"
                  aria-label={`Remove ${g.filename}`}
                  title="Remove this sample"
                  disabled={removing !== null || building}
                  onClick={() => remove(g)}
                >
                  ✕
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="card" aria-label="Fingerprint">
        <div className="card-head">
          <h2>Fingerprint</h2>
        </div>
        <div className="row wrap">
          <button
            type="button"
            className="btn btn-primary"
            onClick={build}
            disabled={building || golden.length === 0 || uploading > 0}
            data-testid="generate"
          >
            {building ? 'Generating…' : 'Generate fingerprint'}
          </button>
          <label className="inline-field">
            Threshold
            <input
              inputMode="decimal"
              value={threshold}
              onChange={(e) => setThreshold(e.target.value)}
              placeholder="from golden samples"
              aria-label="Threshold override"
              disabled={building}
            />
          </label>
        </div>
        {golden.length === 0 && <p className="muted small">Upload golden samples first.</p>}
        {building && job && <ProgressBar fraction={jobFraction(job)} label={jobLabel(job)} />}

        <h3>Versions</h3>
        {versions.length === 0 ? (
          <p className="muted">No fingerprint built yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="versions" data-testid="versions-table">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Built at</th>
                  <th scope="col">Threshold</th>
                  <th scope="col">Samples</th>
                  <th scope="col">Coreset rows</th>
                  <th scope="col">Build time</th>
                  <th scope="col" />
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.version} className={v.active ? 'selected' : undefined}>
                    <td>v{v.version}</td>
                    <td className="nowrap">{fmtTime(v.created_at)}</td>
                    <td className="num nowrap">
                      {fmtScore(v.threshold)}
                      {v.threshold_source && <span className="muted small"> {v.threshold_source}</span>}
                    </td>
                    <td className="num">{v.golden_count}</td>
                    <td className="num">{v.coreset_rows ?? '–'}</td>
                    <td className="num">{v.build_seconds != null ? `${v.build_seconds.toFixed(1)} s` : '–'}</td>
                    <td>
                      {v.active ? (
                        <span className="badge badge-active">active</span>
                      ) : (
                        <button
                          type="button"
                          className="btn btn-small"
                          disabled={activating !== null || building}
                          onClick={() => activate(v)}
                        >
                          {activating === v.version
                            ? 'Activating…'
                            : fp && v.version < fp.version
                              ? `Roll back to v${v.version}`
                              : `Activate v${v.version}`}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
