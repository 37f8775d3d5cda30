import { useEffect, useRef, useState } from 'react';
import { api, listAllInspections, plainMessage, waitForJob } from '../api/client';
import type { Inspection, Job, Product } from '../api/types';
import { Dropzone } from '../components/Dropzone';
import { ErrorBanner, Notice } from '../components/ErrorBanner';
import { InspectionViewer } from '../components/InspectionViewer';
import { ProductPicker } from '../components/ProductPicker';
import { ProgressBar } from '../components/ProgressBar';
import { ResultsTable } from '../components/ResultsTable';
import { fmtBytes, plural } from '../format';
import { href, navigate } from '../route';
import { jobFraction } from './SetupPage';

interface BatchFailure {
  filename: string;
  error: string;
}

/** The images a finished batch could not inspect (the API types a job's result as a free-form object). */
export function batchFailures(job: Job): BatchFailure[] {
  const failed = job.result?.failed;
  if (!Array.isArray(failed)) return [];
  return failed.map((f: { filename?: unknown; error?: unknown }) => ({
    filename: String(f.filename ?? '?'),
    error: typeof f.error === 'object' && f.error !== null ? String((f.error as { message?: unknown }).message ?? '') : String(f.error ?? ''),
  }));
}

interface Props {
  products: Product[];
  productName: string | null;
  itemId: string | null;
}

export function InspectPage({ products, productName, itemId }: Props) {
  const product = products.find((p) => p.name === productName) ?? null;
  return (
    <div className="stack-v">
      <div className="card toolbar">
        <ProductPicker
          products={products}
          value={product ? product.name : null}
          onChange={(n) => navigate('inspect', n)}
          needFingerprint
        />
        {product && (
          <span className="muted small">
            {product.active_version !== null
              ? `fingerprint v${product.active_version} · threshold ${product.fingerprint ? product.fingerprint.threshold.toFixed(3) : '–'}`
              : 'no fingerprint yet'}
          </span>
        )}
      </div>
      {productName && !product && products.length > 0 && (
        <ErrorBanner error={new Error(`There is no product named "${productName}". Choose one above.`)} />
      )}
      {!productName && products.length === 0 && (
        <Notice>
          No products yet. <a href={href('setup')}>Create one on the Product setup page.</a>
        </Notice>
      )}
      {product && <Inspector key={product.name} product={product} itemId={itemId} />}
    </div>
  );
}

function Inspector({ product, itemId }: { product: Product; itemId: string | null }) {
  const name = product.name;
  const [staged, setStaged] = useState<File[]>([]);
  const [results, setResults] = useState<Inspection[]>([]);
  const [caption, setCaption] = useState('Recent inspections');
  const [selected, setSelected] = useState<Inspection | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [running, setRunning] = useState<{ label: string; fraction: number | null } | null>(null);
  const [failed, setFailed] = useState<BatchFailure[]>([]);
  const [feedbackBusy, setFeedbackBusy] = useState(false);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);
  const ready = product.active_version !== null;

  // Recent inspections of the product until this session runs its own.
  useEffect(() => {
    api
      .listInspections(name, { limit: 25 })
      .then((page) => {
        if (!alive.current) return;
        setResults((cur) => (cur.length ? cur : page.items));
      })
      .catch((e) => alive.current && setError(e));
  }, [name]);

  // A link from elsewhere (analytics) to one inspection.
  useEffect(() => {
    if (!itemId) return;
    api
      .getInspection(name, itemId)
      .then((ins) => {
        if (!alive.current) return;
        setSelected(ins);
        setResults((cur) => (cur.some((c) => c.id === ins.id) ? cur : [ins, ...cur]));
      })
      .catch((e) => alive.current && setError(e));
  }, [name, itemId]);

  const run = async () => {
    if (staged.length === 0) return;
    const files = staged;
    setError(null);
    setNotice(null);
    setFailed([]);
    try {
      if (files.length === 1) {
        setRunning({ label: `Inspecting ${files[0].name}…`, fraction: null });
        const ins = await api.inspect(name, files[0]);
        if (!alive.current) return;
        setResults([ins]);
        setCaption('This inspection');
        setSelected(ins);
      } else {
        setRunning({ label: `Uploading ${plural(files.length, 'image')}…`, fraction: null });
        const job = await api.startBatch(name, files);
        const show = (j: Job) =>
          alive.current &&
          setRunning({
            label:
              j.state === 'queued'
                ? 'Batch waiting to start…'
                : `Inspecting ${j.progress?.done ?? 0} of ${j.progress?.total ?? files.length}…`,
            fraction: jobFraction(j),
          });
        show(job);
        const done = await waitForJob(job.id, show, { isCancelled: () => !alive.current });
        if (!alive.current) return;
        if (done.state === 'failed') {
          const e = done.error;
          throw new Error(`The batch failed: ${e ? plainMessage(0, e.code, e.message) : 'no reason given.'}`);
        }
        setRunning({ label: 'Loading results…', fraction: 1 });
        const items = await listAllInspections(name, { batch: job.id }, files.length + 10);
        if (!alive.current) return;
        setFailed(batchFailures(done));
        setResults(items);
        setCaption(`Batch of ${plural(files.length, 'image')}`);
        setSelected([...items].sort((a, b) => b.score - a.score)[0] ?? null);
      }
      setStaged([]);
    } catch (e) {
      if (alive.current) setError(e);
    } finally {
      if (alive.current) setRunning(null);
    }
  };

  const falseAlarm = async (addToGolden: boolean) => {
    if (!selected) return;
    setFeedbackBusy(true);
    setError(null);
    try {
      const ins = await api.feedback(name, selected.id, addToGolden);
      if (!alive.current) return;
      setSelected(ins);
      setResults((cur) => cur.map((c) => (c.id === ins.id ? ins : c)));
      setNotice(
        addToGolden
          ? 'Marked as a false alarm and added to the golden samples. Generate a new fingerprint on the Product setup page to use it.'
          : 'Marked as a false alarm.',
      );
    } catch (e) {
      if (alive.current) setError(e);
    } finally {
      if (alive.current) setFeedbackBusy(false);
    }
  };

  const totalBytes = staged.reduce((s, f) => s + f.size, 0);
  return (
    <>
      {!ready && (
        <Notice>
          {name} has no fingerprint yet.{' '}
          <a href={href('setup', name)}>Upload golden samples and generate one on the Product setup page.</a>
        </Notice>
      )}
      <section className="card" aria-label="Images to inspect">
        <Dropzone
          testId="inspect-drop"
          label="Drop one or many part photos here, or click to choose"
          hint="One image is inspected at once; several run as a batch."
          disabled={!ready || running !== null}
          onFiles={(fs) => {
            setStaged((cur) => {
              const seen = new Set(cur.map((f) => `${f.name}:${f.size}`));
              return [...cur, ...fs.filter((f) => !seen.has(`${f.name}:${f.size}`))];
            });
            setError(null);
          }}
          onRejected={(names) => setError(new Error(`Not images, left out: ${names.join(', ')}.`))}
        />
        {staged.length > 0 && (
          <div className="staged">
            <ul className="chips" aria-label="Images ready to inspect">
              {staged.map((f) => (
                <li key={`${f.name}:${f.size}`} className="chip">
                  {f.name}
                  <button
                    type="button"
                    className="link"
                    aria-label={`Remove ${f.name}`}
                    disabled={running !== null}
                    onClick={() => setStaged((cur) => cur.filter((x) => x !== f))}
                  >
                    ✕
                  </button>
                </li>
              ))}
            </ul>
            <div className="row wrap">
              <button
                type="button"
                className="btn btn-primary"
                onClick={run}
                disabled={!ready || running !== null}
                data-testid="run"
              >
                {staged.length === 1 ? 'Run inspection' : `Run batch of ${staged.length}`}
              </button>
              <button type="button" className="btn" onClick={() => setStaged([])} disabled={running !== null}>
                Clear
              </button>
              <span className="muted small">
                {plural(staged.length, 'image')} · {fmtBytes(totalBytes)}
              </span>
            </div>
          </div>
        )}
        {running && <ProgressBar fraction={running.fraction} label={running.label} />}
      </section>

      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {notice && <Notice>{notice}</Notice>}
      {failed.length > 0 && (
        <div className="banner banner-error" role="alert">
          {plural(failed.length, 'image')} could not be inspected:{' '}
          {failed
            .map((f) => `${f.filename} (${f.error})`)
            .join('; ')}
        </div>
      )}

      <div className="inspect-layout">
        {selected ? (
          <InspectionViewer
            key={selected.id}
            inspection={selected}
            onFalseAlarm={falseAlarm}
            feedbackBusy={feedbackBusy}
          />
        ) : (
          results.length === 0 && <p className="muted card">No inspections yet for {name}. Drop images above.</p>
        )}
        {results.length > 0 && (
          <section className="card" aria-label="Results">
            <ResultsTable
              items={results}
              selectedId={selected?.id}
              onSelect={setSelected}
              caption={caption}
            />
          </section>
        )}
      </div>
    </>
  );
}
