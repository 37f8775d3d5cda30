import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, type LabelKind } from '../api/client';
import { keys } from '../api/queries';
import type { Inspection } from '../api/types';
import { fmtTime } from '../format';
import { ErrorBanner } from './ErrorBanner';

export const LABELS: Record<LabelKind, string> = {
  confirmed_defect: 'Confirmed defect',
  false_alarm: 'False alarm',
  missed_defect: 'Missed defect',
};

/** The labels that can say something about this decision: a flagged part was bad or good; a passed one
 * can only have been missed. */
const FITTING: Record<Inspection['decision'], LabelKind[]> = {
  ANOMALOUS: ['confirmed_defect', 'false_alarm'],
  OK: ['missed_defect'],
};

/** What the part really was, in a person's words: the history threshold tuning and replay count on. */
export function LabelPanel({ name, inspection: ins }: { name: string; inspection: Inspection }) {
  const queryClient = useQueryClient();
  const current = ins.label ?? null;
  const [kind, setKind] = useState<LabelKind | null>(current?.label ?? null);
  const [note, setNote] = useState(current?.note ?? '');
  const changed = () => queryClient.invalidateQueries({ queryKey: keys.product(name) });
  const save = useMutation({ mutationFn: (k: LabelKind) => api.setLabel(name, ins.id, k, note), onSuccess: changed });
  const clear = useMutation({
    mutationFn: () => api.clearLabel(name, ins.id),
    onSuccess: async () => {
      setKind(null);
      setNote('');
      await changed();
    },
  });
  const busy = save.isPending || clear.isPending;
  return (
    <section className="card label-panel" aria-label="Label">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (kind) save.mutate(kind);
        }}
      >
        <fieldset>
          <legend>What was the part really?</legend>
          <div className="row wrap">
            {FITTING[ins.decision].map((k) => (
              <label key={k} className="check">
                <input type="radio" name={`label-${ins.id}`} value={k} checked={kind === k} onChange={() => setKind(k)} />
                {LABELS[k]}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="row wrap">
          <label className="inline-field">
            Note
            <input value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} placeholder="optional" />
          </label>
          <button type="submit" className="btn btn-small btn-primary" disabled={!kind || busy}>
            {save.isPending ? 'Saving…' : 'Save label'}
          </button>
          {current && (
            <button type="button" className="btn btn-small" disabled={busy} onClick={() => clear.mutate()}>
              Clear label
            </button>
          )}
        </div>
      </form>
      {current && (
        <p className="muted small" data-testid="label-current">
          Labelled {LABELS[current.label].toLowerCase()} by {current.actor}, {fmtTime(current.created_at)}
          {current.note && <> · “{current.note}”</>}
        </p>
      )}
      <ErrorBanner error={save.error ?? clear.error} />
    </section>
  );
}
