import { fmtFullTime, fmtTime } from '../format';

/** A time to the second, the full timestamp (milliseconds, time zone, UTC) in its tooltip. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <>–</>;
  return (
    <time dateTime={iso} title={fmtFullTime(iso)}>
      {fmtTime(iso)}
    </time>
  );
}
