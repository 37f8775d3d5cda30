// The arithmetic behind a result's explanation: how to crop a picture to a box with CSS, and the
// one line that says how often a defect like this one was seen before and how it was judged.
import type { Inspection, SimilarDefect } from '../../api/types';
import { plural } from '../../format';

/** x, y, width, height in pixels (as the API sends boxes). */
export type Box = readonly number[];

/**
 * Where the whole picture (natural size `width` x `height`) sits inside a frame that shows only `box`
 * (the frame has the box's aspect ratio): size and offset as percentages of the frame.
 */
export function cropStyle(box: Box, width: number, height: number) {
  const [x, y, w, h] = box;
  const bw = Math.max(w, 1);
  const bh = Math.max(h, 1);
  const pct = (n: number) => `${+(n * 100).toFixed(4)}%`;
  return { width: pct(width / bw), height: pct(height / bh), left: pct(-x / bw), top: pct(-y / bh) };
}

/** The square around `box`'s centre that holds it, inside a `width` x `height` picture (thumbnails of one shape). */
export function squareAround(box: Box, width: number, height: number): Box {
  const [x, y, w, h] = box;
  const side = Math.min(Math.max(w, h), width, height);
  const start = (centre: number, size: number) => Math.min(Math.max(centre - side / 2, 0), size - side);
  return [start(x + w / 2, width), start(y + h / 2, height), side, side];
}

/** How a person judged a past inspection (false alarm is the only label the API records). */
export const labelOf = (ins: Inspection) => (ins.feedback === 'false_alarm' ? 'false alarm' : 'not reviewed');

const WEEK_MS = 7 * 24 * 3600 * 1000;

/**
 * "Seen 14 times in the last 7 days, last marked false alarm": counted over the similar past
 * inspections (at most `limit` come back, so a full list is a lower bound); null without history.
 */
export function seenSummary(items: SimilarDefect[], limit: number, now: number): string | null {
  if (items.length === 0) return null;
  const times = items.map((s) => Date.parse(s.inspection.created_at));
  const week = times.filter((t) => now - t <= WEEK_MS).length;
  const latest = items[times.indexOf(Math.max(...times))].inspection;
  const atLeast = items.length >= limit ? 'at least ' : '';
  const count =
    week === items.length
      ? `Seen ${atLeast}${plural(week, 'time')} in the last 7 days`
      : `Seen ${atLeast}${plural(items.length, 'time')} before, ${week} in the last 7 days`;
  const last = latest.feedback === 'false_alarm' ? 'last marked false alarm' : 'last one not reviewed';
  return `${count}, ${last}.`;
}
