import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { Link } from 'react-router';
import { api } from '../api/client';
import { keys, useLines } from '../api/queries';
import type { Line, Source } from '../api/types';
import { ConfirmButton } from '../components/ConfirmButton';
import { DecisionBadge } from '../components/DecisionBadge';
import { ErrorBanner, Notice } from '../components/ErrorBanner';
import { Loading } from '../components/Loading';
import { Time } from '../components/Time';
import { paths } from '../paths';
import { LineConfig } from './lines/LineConfig';

/** Every line on one screen: what each product's sources are doing, its last decision and its day. */
export function LinesPage() {
  const lines = useLines();
  if (!lines.data) return <Loading error={lines.error} label="Loading the lines…" />;
  return (
    <div className="stack-v">
      <ErrorBanner error={lines.error} />
      {lines.data.length === 0 ? (
        <Notice>
          No products yet. <Link to={paths.setup()}>Create one on the Product setup page.</Link>
        </Notice>
      ) : (
        <div className="card">
          <h2>Lines</h2>
          <p className="muted">Every product, refreshed every 5 seconds; today counts from local midnight.</p>
          <div className="table-wrap">
            <table className="lines">
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">Sources</th>
                  <th scope="col">Last result</th>
                  <th scope="col">Today</th>
                </tr>
              </thead>
              <tbody>
                {lines.data.map((line) => (
                  <LineRow key={line.name} line={line} />
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </div>
  );
}

function LineRow({ line }: { line: Line }) {
  const passRate = line.inspected ? Math.round((100 * (line.inspected - line.anomalous)) / line.inspected) : null;
  // the forms and the sink (a request of its own) only while open: the overview stays one row per product
  const [configuring, setConfiguring] = useState(false);
  const panel = useId();
  return (
    <>
      <tr data-testid={`line-${line.name}`}>
        <th scope="row">
          <Link to={paths.inspect(line.name)}>{line.name}</Link>
          <div className="muted">
            {line.active_version === null ? <Link to={paths.setup(line.name)}>no fingerprint yet</Link> : `version ${line.active_version}`}
          </div>
          <div className="row-actions">
            <button
              type="button"
              className="btn btn-small"
              aria-expanded={configuring}
              aria-controls={configuring ? panel : undefined}
              aria-label={`Configure ${line.name}`}
              onClick={() => setConfiguring(!configuring)}
            >
              Configure
            </button>
          </div>
        </th>
        <td>
          {line.sources.length === 0 ? (
            <span className="muted">none (Configure adds one)</span>
          ) : (
            <ul className="sources">
              {line.sources.map((s) => (
                <SourceItem key={s.id} product={line.name} source={s} />
              ))}
            </ul>
          )}
        </td>
        <td>
          {line.last ? (
            <Link to={paths.inspect(line.name, line.last.id)} className="last">
              <DecisionBadge decision={line.last.decision} /> <Time iso={line.last.created_at} />
            </Link>
          ) : (
            <span className="muted">nothing inspected</span>
          )}
        </td>
        <td>
          {line.inspected} inspected
          {line.anomalous > 0 && <span className="alarms"> · {line.anomalous} anomalous</span>}
          {passRate !== null && <div className="muted">{passRate} % passed</div>}
        </td>
      </tr>
      {configuring && (
        <tr className="line-config-row">
          <td colSpan={4}>
            <LineConfig name={line.name} id={panel} />
          </td>
        </tr>
      )}
    </>
  );
}

const TROUBLE = new Set(['waiting', 'error']);

function SourceItem({ product, source }: { product: string; source: Source }) {
  const queryClient = useQueryClient();
  const done = () => queryClient.invalidateQueries({ queryKey: keys.lines });
  const toggle = useMutation({ mutationFn: () => api.setSourceRunning(product, source.id, !source.enabled), onSettled: done });
  const trigger = useMutation({ mutationFn: () => api.triggerSource(product, source.id), onSettled: done });
  const remove = useMutation({ mutationFn: () => api.deleteSource(product, source.id), onSettled: done });
  const label = `${source.kind} ${source.target}`;
  return (
    <li>
      <span className={`state state-${TROUBLE.has(source.state) ? 'trouble' : 'fine'}`}>{source.state}</span> <span className="target">{label}</span>
      <span className="muted">
        {' '}
        · {source.inspected} inspected{source.failed > 0 && `, ${source.failed} failed`}
      </span>
      {source.last_error && <div className="source-error">{source.last_error}</div>}
      <div className="row-actions">
        <button type="button" className="btn btn-small" disabled={toggle.isPending} onClick={() => toggle.mutate()} aria-label={`${source.enabled ? 'Stop' : 'Start'} ${label}`}>
          {source.enabled ? 'Stop' : 'Start'}
        </button>
        {source.triggered && source.state === 'running' && (
          <button type="button" className="btn btn-small" disabled={trigger.isPending} onClick={() => trigger.mutate()} aria-label={`Trigger ${label}`}>
            Trigger
          </button>
        )}
        <ConfirmButton label="Remove" name={`Remove ${label}`} title={`Remove ${label} from ${product}?`} disabled={remove.isPending} onConfirm={() => remove.mutate()}>
          The source stops and is removed; what it inspected stays stored.
        </ConfirmButton>
      </div>
      <ErrorBanner error={toggle.error ?? trigger.error ?? remove.error} />
    </li>
  );
}
