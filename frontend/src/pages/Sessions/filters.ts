// SPDX-License-Identifier: ISC
// The history filter <-> the page URL (so a filtered view can be shared and reloaded).
import type { HistoryFilter, HistoryKind } from '../../types/api';

export interface HistoryView {
  filter: HistoryFilter;
  page: number;
  perPage: number;
}

const PER_PAGE = [10, 20, 50, 100, 200];

function posInt(v: string | null, min: number, max: number): number | undefined {
  if (!v || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

/** Reads the view from URL parameters, dropping anything invalid. */
export function parseView(p: URLSearchParams): HistoryView {
  const kind: HistoryKind = p.get('kind') === 'conns' ? 'conns' : 'sessions';
  const statuses = kind === 'conns' ? ['open', 'closed'] : ['online', 'closed'];
  const status = p.get('status') ?? '';
  const perPage = posInt(p.get('per_page'), 1, 500);
  return {
    filter: {
      kind,
      client: p.get('client') || undefined,
      name: p.get('name') || undefined,
      port: posInt(p.get('port'), 1, 65535),
      from: posInt(p.get('from'), 1, 2 ** 40),
      to: posInt(p.get('to'), 1, 2 ** 40),
      status: statuses.includes(status) ? status : undefined,
      q: p.get('q') || undefined,
    },
    page: posInt(p.get('page'), 1, 1e9) ?? 1,
    perPage: perPage && PER_PAGE.includes(perPage) ? perPage : 20,
  };
}

/** Writes the view as URL parameters (defaults left out). */
export function viewParams(v: HistoryView): URLSearchParams {
  const p = new URLSearchParams();
  const f = v.filter;
  if (f.kind !== 'sessions') p.set('kind', f.kind);
  if (f.client) p.set('client', f.client);
  if (f.name) p.set('name', f.name);
  if (f.port) p.set('port', String(f.port));
  if (f.from) p.set('from', String(f.from));
  if (f.to) p.set('to', String(f.to));
  if (f.status) p.set('status', f.status);
  if (f.q) p.set('q', f.q);
  if (v.page !== 1) p.set('page', String(v.page));
  if (v.perPage !== 20) p.set('per_page', String(v.perPage));
  return p;
}

export const PAGE_SIZES = PER_PAGE;
