// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { formatAgoShort, formatBytes, formatDuration, formatStep, formatTime, shortId } from './format';

describe('format', () => {
  it('formats bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(64 * 1024 * 1024)).toBe('64.0 MiB');
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
  });
  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(65)).toBe('1m 5s');
    expect(formatDuration(3700)).toBe('1h 1m');
    expect(formatDuration(90000)).toBe('1d 1h');
  });
  it('formats short relative times', () => {
    const now = 1_700_000_000_000;
    expect(formatAgoShort(1_700_000_000 - 12, now)).toBe('12s ago');
    expect(formatAgoShort(1_700_000_000 - 125, now)).toBe('2m ago');
    expect(formatAgoShort(1_700_000_000 - 7300, now)).toBe('2h ago');
    expect(formatAgoShort(1_700_000_000 - 200000, now)).toBe('2d ago');
    expect(formatAgoShort(0, now)).toBe('—');
  });
  it('formats steps, times and ids', () => {
    expect(formatStep(60)).toBe('1 min');
    expect(formatStep(900)).toBe('15 min');
    expect(formatStep(3600)).toBe('1 h');
    expect(formatTime(0)).toBe('—');
    expect(formatTime(1700000000)).toMatch(/^2023-11-1[45] \d\d:13:20$/);
    expect(shortId('0123456789abcdef')).toBe('01234567…');
    expect(shortId('abc')).toBe('abc');
  });
});
