import { describe, expect, it } from 'vitest';
import { fmtFullTime, fmtTime, parseDecimal } from './format';

describe('parseDecimal', () => {
  it('reads a decimal point or a decimal comma', () => {
    expect(parseDecimal('3.25')).toBe(3.25);
    expect(parseDecimal(' 3,25 ')).toBe(3.25);
    expect(parseDecimal(',5')).toBe(0.5);
    expect(parseDecimal('-1')).toBe(-1);
    expect(parseDecimal('7')).toBe(7);
  });
  it('refuses what is not one number', () => {
    for (const text of ['', '1.234,5', '1,2,3', '3.2.1', 'abc', '3 25', '1e3', 'Infinity', '.']) expect(parseDecimal(text)).toBeNull();
  });
});

describe('times', () => {
  it('shows seconds, and the full timestamp for a tooltip', () => {
    const iso = new Date(2026, 11, 2, 9, 5, 7, 42).toISOString();
    expect(fmtTime(iso)).toBe('2026-12-02 09:05:07');
    expect(fmtFullTime(iso)).toMatch(/^2026-12-02 09:05:07\.042 UTC[+-]\d\d:\d\d \(2026-12-02T\d\d:05:07\.042Z\)$/);
    expect(fmtTime(null)).toBe('–');
  });
});
