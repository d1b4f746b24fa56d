// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { countConn, matchClient, removeClient, upsertClient } from './live';
import { sampleClient } from '../../test/fakes';

describe('clients live updates', () => {
  it('adds, replaces and removes clients', () => {
    const a = sampleClient();
    const b = sampleClient({ id: 'b', name: 'second' });
    let l = upsertClient([], a);
    l = upsertClient(l, b);
    expect(l.map((c) => c.name)).toEqual(['gotunnel-demo', 'second']);
    l = upsertClient(l, { ...b, name: 'renamed' });
    expect(l).toHaveLength(2);
    expect(l[1]?.name).toBe('renamed');
    l = removeClient(l, { id: a.id, name: a.name });
    expect(l.map((c) => c.id)).toEqual(['b']);
  });
  it('counts connections on the client and its mapping', () => {
    const a = sampleClient();
    let l = countConn([a], { id: '1', client_id: a.id, remote_port: 10022 }, 1);
    expect(l[0]?.live_conns).toBe(2);
    expect(l[0]?.mappings[0]?.live_conns).toBe(2);
    expect(l[0]?.mappings[0]?.total_conns).toBe(6);
    l = countConn(l, { id: '1', client_id: a.id, remote_port: 10022, bytes_in: 5, bytes_out: 7 }, -1);
    expect(l[0]?.live_conns).toBe(1);
    expect(l[0]?.bytes_in).toBe(15);
    expect(countConn(l, { id: '2', client_id: 'other' }, -1)).toEqual(l);
  });
  it('searches name, id, address, ports and mapping names', () => {
    const a = sampleClient();
    expect(matchClient(a, '')).toBe(true);
    expect(matchClient(a, 'DEMO')).toBe(true);
    expect(matchClient(a, '9f2c')).toBe(true);
    expect(matchClient(a, '127.0.0.1:534')).toBe(true);
    expect(matchClient(a, '10022')).toBe(true);
    expect(matchClient(a, 'ssh')).toBe(true);
    expect(matchClient(a, 'nothing')).toBe(false);
  });
});
