// SPDX-License-Identifier: ISC
// Time series for the overview charts.
import type { Stats, StatsRange } from '../types/api';
import { get } from './http';

/** Stats for 1h, 24h or 7d. */
export function getStats(range: StatsRange, signal?: AbortSignal): Promise<Stats> {
  return get<Stats>('/api/stats', { range }, { signal });
}
