// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { parseView, viewParams } from './filters';
import { exportUrl } from '../../api/sessions';

describe('history filters', () => {
  it('round-trips through the URL', () => {
    const p = new URLSearchParams('kind=conns&client=abc&name=demo&port=10022&from=100&to=200&status=open&q=x&page=3&per_page=50');
    const v = parseView(p);
    expect(v.filter).toEqual({ kind: 'conns', client: 'abc', name: 'demo', port: 10022, from: 100, to: 200, status: 'open', q: 'x' });
    expect(v.page).toBe(3);
    expect(v.perPage).toBe(50);
    expect(viewParams(v).toString()).toBe(p.toString());
  });
  it('drops invalid values', () => {
    const v = parseView(new URLSearchParams('kind=bogus&port=99999&status=open&page=-1&per_page=7'));
    expect(v.filter.kind).toBe('sessions');
    expect(v.filter.port).toBeUndefined();
    expect(v.filter.status).toBeUndefined(); // "open" is a conn status
    expect(v.page).toBe(1);
    expect(v.perPage).toBe(20);
  });
  it('builds the export link with the same filters', () => {
    expect(exportUrl({ kind: 'sessions', name: 'demo', port: 10022 }, 'csv')).toBe(
      '/api/sessions/export?format=csv&kind=sessions&name=demo&port=10022',
    );
  });
});
