// Threshold tuning's arithmetic, kept apart from the page so it is tested on its own.
import type { Tuning } from '../../api/types';

type Point = Tuning['points'][number];

/** A number as typed on the floor: "3,25" and "3.25" alike; NaN for anything else. */
export function parseDecimal(text: string): number {
  const t = text.trim().replace(',', '.');
  return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(t) ? Number(t) : NaN;
}

export interface Outcome {
  falseAlarms: number; // labelled good (false_alarm) and flagged at this threshold
  misses: number; // labelled bad (confirmed or missed defect) and passed
  labelled: number;
  flagged: number; // unlabelled and flagged
  unlabelled: number;
}

/** What `threshold` would have decided on the labelled history (a score above it is ANOMALOUS, as on the server). */
export function outcome(points: Point[], threshold: number): Outcome {
  const o: Outcome = { falseAlarms: 0, misses: 0, labelled: 0, flagged: 0, unlabelled: 0 };
  for (const p of points) {
    const flagged = p.score > threshold;
    if (p.label === null) {
      o.unlabelled += 1;
      if (flagged) o.flagged += 1;
    } else {
      o.labelled += 1;
      if (p.label === 'false_alarm' && flagged) o.falseAlarms += 1;
      if (p.label !== 'false_alarm' && !flagged) o.misses += 1;
    }
  }
  return o;
}

/** The slider's span: every score and the current threshold, with a margin. */
export function span(tuning: Tuning): [number, number] {
  const values = [tuning.threshold, ...tuning.points.map((p) => p.score)];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = (hi - lo || hi || 1) * 0.1;
  return [Math.max(0, lo - pad), hi + pad];
}

/** Counts per bin over [lo, hi]: unlabelled, labelled good, labelled bad. */
export function histogram(points: Point[], lo: number, hi: number, bins: number): { none: number; good: number; bad: number }[] {
  const out = Array.from({ length: bins }, () => ({ none: 0, good: 0, bad: 0 }));
  for (const p of points) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor(((p.score - lo) / (hi - lo)) * bins)));
    if (p.label === null) out[i].none += 1;
    else if (p.label === 'false_alarm') out[i].good += 1;
    else out[i].bad += 1;
  }
  return out;
}
