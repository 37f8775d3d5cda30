/** Determinate when `fraction` is a number, an animated stripe while the amount is unknown. */
export function ProgressBar({ fraction, label }: { fraction?: number | null; label: string }) {
  const known = typeof fraction === 'number' && Number.isFinite(fraction);
  const pct = known ? Math.round(Math.min(1, Math.max(0, fraction as number)) * 100) : undefined;
  return (
    <div className="progress">
      <div
        className={`progress-track${known ? '' : ' progress-indeterminate'}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div className="progress-fill" style={known ? { width: `${pct}%` } : undefined} />
      </div>
      <div className="progress-label">
        {label}
        {known ? ` · ${pct}%` : ''}
      </div>
    </div>
  );
}
