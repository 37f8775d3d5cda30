import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, plainMessage } from '../../api/client';
import { isFinished, useJob } from '../../api/queries';
import { ConfirmButton } from '../../components/ConfirmButton';
import { DecisionBadge } from '../../components/DecisionBadge';
import { ErrorBanner, Notice } from '../../components/ErrorBanner';
import { LABELS } from '../../components/LabelPanel';
import { ProgressBar } from '../../components/ProgressBar';
import { fmtScore, plural } from '../../format';
import { jobFraction, jobLabel } from '../../jobs';
import { useProductChanged } from './GoldenSamples';

const SHOWN = 20; // changed decisions listed one by one

interface Change {
  inspection_id: string;
  filename: string;
  score_before: number;
  score_after: number;
  decision_before: 'OK' | 'ANOMALOUS';
  decision_after: 'OK' | 'ANOMALOUS';
  label: keyof typeof LABELS | null;
}

interface Result {
  compared: number;
  failed: number;
  to_ok: number;
  to_anomalous: number;
  fixes_false_alarms: number;
  introduces_false_alarms: number;
  fixes_misses: number;
  introduces_misses: number;
  changes: Change[];
}

/** The replay in one sentence: what changes, and what that does to the labelled inspections. */
export function replaySummary(version: number, r: Result): string {
  const changed = r.to_ok + r.to_anomalous;
  if (changed === 0) return `v${version} would decide all ${r.compared} inspections as they were decided.`;
  const effects = [
    r.fixes_false_alarms && `fixes ${plural(r.fixes_false_alarms, 'false alarm')}`,
    r.fixes_misses && `fixes ${plural(r.fixes_misses, 'miss', 'misses')}`,
    r.introduces_false_alarms && `introduces ${plural(r.introduces_false_alarms, 'false alarm')}`,
    r.introduces_misses && `introduces ${plural(r.introduces_misses, 'miss', 'misses')}`,
  ].filter(Boolean);
  return (
    `v${version} would change ${changed} of ${r.compared} decisions (${r.to_anomalous} OK → ANOMALOUS, ${r.to_ok} ANOMALOUS → OK)` +
    (effects.length ? `: ${effects.join(', ')}.` : '; none of them is labelled.')
  );
}

/** Score the last stored inspections with a version, show what would change, then offer to activate it
 * (it stays shown once active, saying so). */
export function Replay({ name, version, active }: { name: string; version: number; active: boolean }) {
  const changed = useProductChanged(name);
  const [last, setLast] = useState(100);
  const start = useMutation({ mutationFn: () => api.replayVersion(name, version, last) });
  const job = useJob(start.data?.id ?? null).data;
  const activate = useMutation({
    mutationFn: () => api.activateVersion(name, version),
    onSuccess: changed,
  });
  const running = start.isPending || (job !== undefined && !isFinished(job));
  const failed = job?.state === 'failed' && job.error ? new Error(`The replay failed: ${plainMessage(0, job.error.code, job.error.message)}`) : null;
  const result = job?.state === 'succeeded' ? (job.result as unknown as Result) : null;

  return (
    <section className="card" aria-label="Replay" data-testid="replay">
      <h2>{active ? `Replay v${version}` : `Replay v${version} before activating it`}</h2>
      <div className="row wrap">
        <label className="inline-field">
          Last
          <input type="number" min={1} max={500} value={last} onChange={(e) => setLast(Number(e.target.value))} className="input-short" />
          inspections
        </label>
        <button type="button" className="btn" disabled={running || !(last >= 1)} onClick={() => start.mutate()}>
          {running ? 'Replaying…' : 'Replay'}
        </button>
      </div>
      {running && job && <ProgressBar fraction={jobFraction(job)} label={jobLabel(job)} />}
      <ErrorBanner error={start.error ?? failed ?? activate.error} />
      {result && (
        <>
          <p data-testid="replay-summary">{replaySummary(version, result)}</p>
          {result.changes.length > 0 && (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Image</th>
                    <th scope="col">Score</th>
                    <th scope="col">Decision</th>
                    <th scope="col">Label</th>
                  </tr>
                </thead>
                <tbody>
                  {result.changes.slice(0, SHOWN).map((c) => (
                    <tr key={c.inspection_id}>
                      <td>{c.filename}</td>
                      <td className="num nowrap">
                        {fmtScore(c.score_before)} → {fmtScore(c.score_after)}
                      </td>
                      <td className="nowrap">
                        <DecisionBadge decision={c.decision_before} /> → <DecisionBadge decision={c.decision_after} />
                      </td>
                      <td>{c.label ? LABELS[c.label] : '–'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {active ? (
            <Notice>v{version} is active. New inspections use it.</Notice>
          ) : (
            <ConfirmButton label={`Activate v${version}`} title={`Switch ${name} to v${version}?`} disabled={activate.isPending} onConfirm={() => activate.mutate()}>
              New inspections of {name} will be judged by v{version}. You can roll back to another version at any time.
            </ConfirmButton>
          )}
        </>
      )}
    </section>
  );
}
