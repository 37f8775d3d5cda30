import { useIsMutating, useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { api, plainMessage } from '../../api/client';
import { isFinished, useJob, useVersions } from '../../api/queries';
import type { Job, Product, Version } from '../../api/types';
import { ConfirmButton } from '../../components/ConfirmButton';
import { ErrorBanner, Notice } from '../../components/ErrorBanner';
import { ProgressBar } from '../../components/ProgressBar';
import { Time } from '../../components/Time';
import { fmtScore, parseDecimal } from '../../format';
import { jobFraction, jobLabel } from '../../jobs';
import { paths } from '../../paths';
import { ActivationHistory } from './ActivationHistory';
import { uploadKey, useProductChanged } from './GoldenSamples';

const BAD_THRESHOLD = 'The threshold must be a positive number such as 3.25 or 3,25, or left empty to derive it from the golden samples.';

/** What a finished build says: a notice when it worked, an error in plain words when not. */
export function buildOutcome(job: Job): { notice: string | null; error: Error | null } {
  if (job.state === 'succeeded') {
    const v = (job.result as { version?: number } | null)?.version;
    return { notice: v ? `Fingerprint v${v} is built and active.` : 'The fingerprint is built.', error: null };
  }
  const reason = job.error ? `: ${plainMessage(0, job.error.code, job.error.message)}` : '.';
  return { notice: null, error: new Error(`The fingerprint could not be built${reason}`) };
}

/** Generate a fingerprint (following the build's progress) and list the versions, with activate / roll back. */
export function Fingerprint({ product, goldenCount, shown }: { product: Product; goldenCount: number; shown: number | null }) {
  const name = product.name;
  const changed = useProductChanged(name);
  const versions = useVersions(name);
  const uploading = useIsMutating({ mutationKey: uploadKey(name) }) > 0;
  const [threshold, setThreshold] = useState('');
  const [invalid, setInvalid] = useState(false);
  const [outcome, setOutcome] = useState<{ notice: string | null; error: Error | null }>({ notice: null, error: null });

  const build = useMutation({ mutationFn: (t?: number) => api.buildFingerprint(name, t), onSuccess: changed });
  const activate = useMutation({
    mutationFn: (v: Version) => api.activateVersion(name, v.version),
    onSuccess: async (v) => {
      setOutcome({ notice: `Fingerprint v${v.version} is now active. New inspections use it.`, error: null });
      await changed();
    },
  });

  // Follow the build this page started, or one already running when it opened.
  const running = product.building && !isFinished(product.building) ? product.building : null;
  const job = useJob(build.data?.id ?? running?.id ?? null).data;
  const building = build.isPending || (job !== undefined && !isFinished(job));
  const reported = useRef<string | null>(null);
  useEffect(() => {
    if (job && isFinished(job) && reported.current !== job.id) {
      reported.current = job.id;
      setOutcome(buildOutcome(job));
      void changed();
    }
  }, [job, changed]);

  const generate = () => {
    const t = threshold.trim() === '' ? undefined : parseDecimal(threshold);
    const bad = t !== undefined && !(t !== null && t > 0);
    setInvalid(bad);
    setOutcome({ notice: null, error: null });
    activate.reset();
    if (!bad) build.mutate(t ?? undefined);
  };

  const fp = product.fingerprint;
  const error = invalid ? new Error(BAD_THRESHOLD) : (outcome.error ?? build.error ?? activate.error);
  return (
    <section className="card" aria-label="Fingerprint">
      <div className="card-head">
        <h2>Fingerprint</h2>
      </div>
      <div className="row wrap">
        <button
          type="button"
          className="btn btn-primary"
          onClick={generate}
          disabled={building || goldenCount === 0 || uploading}
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
      {goldenCount === 0 && <p className="muted small">Upload golden samples first.</p>}
      {building && job && <ProgressBar fraction={jobFraction(job)} label={jobLabel(job)} />}
      <ErrorBanner
        error={error}
        onDismiss={() => {
          setInvalid(false);
          setOutcome({ notice: null, error: null });
          build.reset();
          activate.reset();
        }}
      />
      {outcome.notice && <Notice>{outcome.notice}</Notice>}

      <h3>Versions</h3>
      {!versions.data || versions.data.length === 0 ? (
        <p className="muted">No fingerprint built yet.</p>
      ) : (
        <VersionsTable
          name={name}
          versions={versions.data}
          active={fp?.version ?? null}
          shown={shown}
          busy={activate.isPending || building}
          activating={activate.isPending ? activate.variables.version : null}
          onActivate={(v) => activate.mutate(v)}
        />
      )}
      <ActivationHistory name={name} />
    </section>
  );
}

interface TableProps {
  name: string;
  versions: Version[];
  active: number | null;
  shown: number | null;
  busy: boolean;
  activating: number | null;
  onActivate: (v: Version) => void;
}

function VersionsTable({ name, versions, active, shown, busy, activating, onActivate }: TableProps) {
  return (
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
            <th scope="col">
              <span className="visually-hidden">State</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version} className={v.version === (shown ?? active) ? 'selected' : undefined} aria-current={v.version === shown || undefined}>
              <td>
                <Link to={paths.setup(name, v.version)}>v{v.version}</Link>
              </td>
              <td className="nowrap"><Time iso={v.created_at} /></td>
              <td className="num nowrap">
                {fmtScore(v.threshold)}
                {v.threshold_source && <span className="muted small"> {v.threshold_source}</span>}
                {v.origin && <div className="muted small">{`${v.origin.reason} · ${v.origin.actor}`}</div>}
              </td>
              <td className="num">{v.golden_count}</td>
              <td className="num">{v.coreset_rows ?? '–'}</td>
              <td className="num">{v.build_seconds != null ? `${v.build_seconds.toFixed(1)} s` : '–'}</td>
              <td>
                {v.active ? (
                  <span className="badge badge-active">active</span>
                ) : (
                  <ActivateButton name={name} version={v} rollback={active !== null && v.version < active} busy={busy} activating={activating === v.version} onActivate={onActivate} />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface ActivateProps {
  name: string;
  version: Version;
  rollback: boolean;
  busy: boolean;
  activating: boolean;
  onActivate: (v: Version) => void;
}

function ActivateButton({ name, version: v, rollback, busy, activating, onActivate }: ActivateProps) {
  return (
    <ConfirmButton
      label={activating ? 'Activating…' : rollback ? `Roll back to v${v.version}` : `Activate v${v.version}`}
      title={`${rollback ? 'Roll back' : 'Switch'} ${name} to v${v.version}?`}
      disabled={busy}
      onConfirm={() => onActivate(v)}
    >
      New inspections of {name} will be judged by v{v.version} (threshold {fmtScore(v.threshold)}, built from {v.golden_count} golden
      samples). You can activate another version at any time.
    </ConfirmButton>
  );
}
