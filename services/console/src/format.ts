// Small display helpers shared by the pages (one way to print a score, a time, a size).

export function fmtScore(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  return x.toFixed(3);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time as "YYYY-MM-DD HH:MM:SS" (no locale surprises on the floor's PCs; parts on a line come
 * seconds apart, so minutes alone cannot order them). */
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The full timestamp for a tooltip: local time to the millisecond with its UTC offset, and UTC. */
export function fmtFullTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const offset = -d.getTimezoneOffset();
  const zone = `UTC${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${fmtTime(iso)}.${String(d.getMilliseconds()).padStart(3, '0')} ${zone} (${d.toISOString()})`;
}

/** A typed decimal number, with a point or a comma ("3.25" or "3,25": keyboards on the floor differ);
 * null for anything else (thousands separators, two separators, words). */
export function parseDecimal(text: string): number | null {
  const t = text.trim();
  if (!/^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/.test(t)) return null;
  const x = Number(t.replace(',', '.'));
  return Number.isFinite(x) ? x : null;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
