// SPDX-License-Identifier: ISC
// History of client sessions and public connections.
import type { ConnItem, HistoryFilter, HistoryPage, SessionItem } from '../types/api';
import { apiUrl, get } from './http';

/** The query parameters of a filter (unset fields left out; the API rejects unknown ones). */
export function historyQuery(f: HistoryFilter): Record<string, string | number | undefined> {
  return {
    kind: f.kind,
    client: f.client || undefined,
    name: f.name || undefined,
    port: f.port || undefined,
    from: f.from || undefined,
    to: f.to || undefined,
    status: f.status || undefined,
    q: f.q || undefined,
  };
}

/** One page of session history. */
export function listSessions(
  f: HistoryFilter & { kind: 'sessions' },
  page: number,
  perPage: number,
  signal?: AbortSignal,
): Promise<HistoryPage<SessionItem>>;
/** One page of connection history. */
export function listSessions(
  f: HistoryFilter & { kind: 'conns' },
  page: number,
  perPage: number,
  signal?: AbortSignal,
): Promise<HistoryPage<ConnItem>>;
export function listSessions(
  f: HistoryFilter,
  page: number,
  perPage: number,
  signal?: AbortSignal,
): Promise<HistoryPage<SessionItem | ConnItem>>;
export function listSessions(f: HistoryFilter, page: number, perPage: number, signal?: AbortSignal) {
  return get<HistoryPage<SessionItem | ConnItem>>(
    '/api/sessions',
    { ...historyQuery(f), page, per_page: perPage },
    { signal },
  );
}

/** The download link of the filtered history (the cookie goes along, same origin). */
export function exportUrl(f: HistoryFilter, format: 'csv' | 'ndjson'): string {
  return apiUrl('/api/sessions/export', { format, ...historyQuery(f) });
}
