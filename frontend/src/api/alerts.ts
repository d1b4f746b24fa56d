// SPDX-License-Identifier: ISC
// Alerts: episodes the master raised (firing) and ended (resolved).
import type { AlertPage, AlertState } from '../types/api';
import { get } from './http';

/** One page of alert episodes, newest first; state filters on the server. */
export function listAlerts(
  page: number,
  perPage: number,
  state?: AlertState,
  signal?: AbortSignal,
): Promise<AlertPage> {
  return get<AlertPage>('/api/alerts', { page, per_page: perPage, state: state || undefined }, { signal });
}
