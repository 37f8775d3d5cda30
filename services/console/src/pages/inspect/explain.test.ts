import { describe, expect, it } from 'vitest';
import type { SimilarDefect } from '../../api/types';
import { inspection } from '../../test/fakeApi';
import { cropStyle, labelOf, seenSummary, squareAround } from './explain';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const DAY = 24 * 3600 * 1000;

function seen(id: string, daysAgo: number, falseAlarm = false): SimilarDefect {
  const created_at = new Date(NOW - daysAgo * DAY).toISOString();
  return { inspection: inspection(id, 3, { created_at, feedback: falseAlarm ? 'false_alarm' : null }), distance: 1, region: 0, matched_region: 0 };
}

describe('cropStyle', () => {
  it('scales and shifts the whole picture so that only the box fills the frame', () => {
    // a 100x50 box at (200, 100) in an 800x400 picture: 8x the frame's width, 8x its height
    expect(cropStyle([200, 100, 100, 50], 800, 400)).toEqual({ width: '800%', height: '800%', left: '-200%', top: '-200%' });
    // the box at the origin covering everything: the picture is the frame
    expect(cropStyle([0, 0, 640, 480], 640, 480)).toEqual({ width: '100%', height: '100%', left: '0%', top: '0%' });
    // uneven sizes are kept to a few decimals
    expect(cropStyle([10, 0, 30, 30], 100, 100).width).toBe('333.3333%');
  });

  it('never divides by an empty box', () => {
    expect(cropStyle([5, 5, 0, 0], 10, 10)).toEqual({ width: '1000%', height: '1000%', left: '-500%', top: '-500%' });
  });
});

describe('squareAround', () => {
  it('squares a box about its centre, kept inside the picture', () => {
    expect(squareAround([40, 10, 20, 60], 200, 100)).toEqual([20, 10, 60, 60]);
    // at an edge the square slides inwards rather than leave the picture
    expect(squareAround([0, 0, 10, 40], 200, 100)).toEqual([0, 0, 40, 40]);
    expect(squareAround([190, 90, 10, 10], 200, 100)).toEqual([190, 90, 10, 10]);
    // a box longer than the picture is high: the square is as high as the picture
    expect(squareAround([0, 0, 200, 20], 200, 100)).toEqual([50, 0, 100, 100]);
  });
});

describe('seenSummary', () => {
  it('is null without history', () => {
    expect(seenSummary([], 10, NOW)).toBeNull();
  });

  it('counts the last 7 days and tells how the latest one was judged', () => {
    const items = [seen('a', 1), seen('b', 0.5, true), seen('c', 6)];
    expect(seenSummary(items, 10, NOW)).toBe('Seen 3 times in the last 7 days, last marked false alarm.');
    expect(seenSummary([seen('a', 0.1), seen('b', 0.5, true)], 10, NOW)).toBe('Seen 2 times in the last 7 days, last one not reviewed.');
  });

  it('says so when older sightings are included, and when the list is cut at its limit', () => {
    expect(seenSummary([seen('a', 2), seen('b', 30, true)], 10, NOW)).toBe('Seen 2 times before, 1 in the last 7 days, last one not reviewed.');
    expect(seenSummary([seen('a', 1)], 1, NOW)).toBe('Seen at least 1 time in the last 7 days, last one not reviewed.');
  });

  it('labels a past inspection by its feedback', () => {
    expect(labelOf(seen('a', 0, true).inspection)).toBe('false alarm');
    expect(labelOf(seen('a', 0).inspection)).toBe('not reviewed');
  });
});
