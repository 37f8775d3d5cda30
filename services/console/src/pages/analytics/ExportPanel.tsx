import { useState } from 'react';
import { errorText, type ExportQuery, exportUrl, type LabelKind } from '../../api/client';
import { LABELS } from '../../components/LabelPanel';
import { download } from '../../download';

type Format = NonNullable<ExportQuery['format']>;

/** The product's inspections as a CSV (for a spreadsheet) or JSON file, by date range, decision and label. */
export function ExportPanel({ name }: { name: string }) {
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [decision, setDecision] = useState<'' | 'OK' | 'ANOMALOUS'>('');
  const [label, setLabel] = useState<'' | LabelKind>('');
  const [format, setFormat] = useState<Format>('csv');
  const [state, setState] = useState<string | null>(null);
  const run = () => {
    setState('Preparing the file…');
    const url = exportUrl(name, { format, since: since || undefined, until: until || undefined, decision: decision || undefined, label: label || undefined });
    download(url, `${name}-inspections.${format}`).then(() => setState(null), (e) => setState(errorText(e)));
  };
  return (
    <section className="card" aria-label="Export">
      <h3>Export inspections</h3>
      <div className="row wrap">
        <label className="inline-field">
          From
          <input type="date" value={since} onChange={(e) => setSince(e.target.value)} />
        </label>
        <label className="inline-field">
          Until (not included)
          <input type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
        </label>
        <label className="inline-field">
          Decision
          <select value={decision} onChange={(e) => setDecision(e.target.value as typeof decision)}>
            <option value="">all</option>
            <option value="OK">OK</option>
            <option value="ANOMALOUS">ANOMALOUS</option>
          </select>
        </label>
        <label className="inline-field">
          Label
          <select value={label} onChange={(e) => setLabel(e.target.value as typeof label)}>
            <option value="">any</option>
            {Object.entries(LABELS).map(([k, text]) => (
              <option key={k} value={k}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-field">
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value as Format)}>
            <option value="csv">CSV</option>
            <option value="json">JSON</option>
          </select>
        </label>
        <button type="button" className="btn btn-primary" onClick={run} data-testid="export">
          Download
        </button>
      </div>
      {state && (
        <p className="muted small" role="status">
          {state}
        </p>
      )}
    </section>
  );
}
