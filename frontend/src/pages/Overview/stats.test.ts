// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { applyTick } from './stats';
import type { Stats } from '../../types/api';

const base: Stats = {
  range: '1h',
  step: 60,
  points: [{ t: 600, online_clients: 1, active_conns: 0, new_conns: 2, bytes_in: 5, bytes_out: 6 }],
  now: { online_clients: 1, mappings: 1, active_conns: 0, bytes_today_in: 5, bytes_today_out: 6 },
};
const tick = { online_clients: 3, mappings: 4, active_conns: 2, bytes_in: 0, bytes_out: 0 };

describe('applyTick', () => {
  it('updates the gauges of the current bucket', () => {
    const s = applyTick(base, tick, 630);
    expect(s.now.online_clients).toBe(3);
    expect(s.now.mappings).toBe(4);
    expect(s.points).toHaveLength(1);
    expect(s.points[0]).toMatchObject({ t: 600, online_clients: 3, active_conns: 2, bytes_in: 5 });
  });
  it('opens a new bucket', () => {
    const s = applyTick(base, tick, 665);
    expect(s.points.map((p) => p.t)).toEqual([600, 660]);
  });
  it('works on long ranges with their own step', () => {
    const s = applyTick({ ...base, range: '24h', step: 900, points: [{ ...base.points[0]!, t: 900 }] }, tick, 1000);
    expect(s.points).toHaveLength(1);
    expect(s.points[0]?.online_clients).toBe(3);
    expect(s.now.active_conns).toBe(2);
    const s2 = applyTick({ ...base, range: '24h', step: 900 }, tick, 87300 + 5);
    expect(s2.points.map((p) => p.t)).toEqual([87300]); // the old bucket fell out of the day
  });
});
