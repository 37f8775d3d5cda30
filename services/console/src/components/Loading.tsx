import { ErrorBanner } from './ErrorBanner';
import { ProgressBar } from './ProgressBar';

/** A card while a page's data is on its way, or why it did not come. */
export function Loading({ error, label }: { error: unknown; label: string }) {
  return (
    <div className="card">
      <ErrorBanner error={error} />
      {!error && <ProgressBar label={label} />}
    </div>
  );
}
