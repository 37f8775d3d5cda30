import { useMemo, useState } from 'react';
import type { Inspection } from '../api/types';
import { fmtScore } from '../format';
import { DecisionBadge } from './DecisionBadge';
import { LABELS } from './LabelPanel';
import { Time } from './Time';

type SortKey = 'score' | 'filename' | 'created_at';
type Sort = { key: SortKey; dir: 'asc' | 'desc' } | null;

interface Props {
  items: Inspection[];
  selectedId?: string | null;
  onSelect: (ins: Inspection) => void;
  caption: string;
}

export function sortInspections(items: Inspection[], sort: Sort): Inspection[] {
  if (!sort) return items;
  const sign = sort.dir === 'asc' ? 1 : -1;
  return [...items].sort((a, b) => {
    const x = a[sort.key];
    const y = b[sort.key];
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c * sign;
  });
}

/** A batch's results; sortable by score (and file name, time); a row click shows that result. */
export function ResultsTable({ items, selectedId, onSelect, caption }: Props) {
  const [sort, setSort] = useState<Sort>(null);
  const rows = useMemo(() => sortInspections(items, sort), [items, sort]);

  const header = (key: SortKey, label: string, firstDir: 'asc' | 'desc') => {
    const active = sort?.key === key;
    const aria = active ? (sort!.dir === 'asc' ? 'ascending' : 'descending') : 'none';
    const next = () =>
      setSort(active ? { key, dir: sort!.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: firstDir });
    return (
      <th aria-sort={aria} scope="col">
        <button type="button" className="th-sort" onClick={next}>
          {label}
          <span className="sort-arrow" aria-hidden="true">
            {active ? (sort!.dir === 'asc' ? '▲' : '▼') : '↕'}
          </span>
        </button>
      </th>
    );
  };

  const ok = items.filter((i) => i.decision === 'OK').length;
  return (
    <div className="table-wrap">
      <table className="results" data-testid="results-table">
        <caption>
          {caption} · {items.length - ok} anomalous, {ok} OK
        </caption>
        <thead>
          <tr>
            {header('filename', 'File', 'asc')}
            <th scope="col">Decision</th>
            {header('score', 'Score', 'desc')}
            <th scope="col">Threshold</th>
            <th scope="col">Regions</th>
            {header('created_at', 'Time', 'desc')}
            <th scope="col">Label</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((ins) => (
            <tr
              key={ins.id}
              className={ins.id === selectedId ? 'selected' : undefined}
              onClick={() => onSelect(ins)}
              tabIndex={0}
              onKeyDown={(e) => e.key === 'Enter' && onSelect(ins)}
              aria-selected={ins.id === selectedId}
            >
              <td className="cell-file" title={ins.filename}>
                {ins.filename}
              </td>
              <td>
                <DecisionBadge decision={ins.decision} />
              </td>
              <td className="num" data-testid="row-score">
                {fmtScore(ins.score)}
              </td>
              <td className="num">{fmtScore(ins.threshold)}</td>
              <td className="num">{ins.regions.length}</td>
              <td className="nowrap"><Time iso={ins.created_at} /></td>
              <td>{ins.label ? LABELS[ins.label.label].toLowerCase() : ins.feedback === 'false_alarm' ? 'false alarm' : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
