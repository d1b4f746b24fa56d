// SPDX-License-Identifier: ISC
// Pure helpers of the overview: applying a live stats tick to a series.
import type { Stats, StatsRange, StatsTick } from '../../types/api';

const SPAN: Record<StatsRange, number> = { '1h': 3600, '24h': 86400, '7d': 604800 };

/** Folds a live tick into the series: gauges of the current bucket, or a new bucket. */
export function applyTick(s: Stats, tick: StatsTick, nowSec: number): Stats {
  const now = {
    ...s.now,
    online_clients: tick.online_clients,
    mappings: tick.mappings,
    active_conns: tick.active_conns,
  };
  if (!s.step || !(s.range in SPAN)) return { ...s, now };
  const bucket = Math.floor(nowSec / s.step) * s.step;
  const points = s.points.slice();
  const last = points[points.length - 1];
  if (last && last.t === bucket) {
    points[points.length - 1] = {
      ...last,
      online_clients: Math.max(last.online_clients, tick.online_clients),
      active_conns: Math.max(last.active_conns, tick.active_conns),
    };
  } else if (!last || last.t < bucket) {
    points.push({ t: bucket, online_clients: tick.online_clients, active_conns: tick.active_conns, new_conns: 0, bytes_in: 0, bytes_out: 0 });
    const first = points[0];
    if (first && bucket - first.t >= SPAN[s.range]) points.shift();
  }
  return { ...s, now, points };
}
