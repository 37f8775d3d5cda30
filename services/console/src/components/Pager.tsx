/** Newer / older through a listing the server pages by cursor: `page` is 0 for the newest. */
export function Pager({ page, size, shown, hasOlder, busy, onNewer, onOlder }: {
  page: number;
  size: number;
  shown: number;
  hasOlder: boolean;
  busy: boolean;
  onNewer: () => void;
  onOlder: () => void;
}) {
  return (
    <nav className="pager" aria-label="Pages of results">
      <button type="button" className="btn btn-small" disabled={page === 0 || busy} onClick={onNewer}>
        ← Newer
      </button>
      <span className="muted small" data-testid="pager-range" aria-live="polite">
        {shown === 0 ? 'none' : `newest ${page * size + 1}–${page * size + shown}`}
      </span>
      <button type="button" className="btn btn-small" disabled={!hasOlder || busy} onClick={onOlder}>
        Older →
      </button>
    </nav>
  );
}
