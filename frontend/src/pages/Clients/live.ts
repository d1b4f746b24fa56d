// SPDX-License-Identifier: ISC
// Pure helpers of the clients table: live events applied to the list, search.
import type { Client, ClientOffline, ConnEvent } from '../../types/api';

/** Adds or replaces a client (client_online). */
export function upsertClient(list: Client[], c: Client): Client[] {
  const c2: Client = { ...c, mappings: c.mappings ?? [], live_conns: c.live_conns ?? 0, bytes_in: c.bytes_in ?? 0, bytes_out: c.bytes_out ?? 0 };
  const i = list.findIndex((x) => x.id === c.id);
  if (i < 0) return [...list, c2];
  const next = list.slice();
  next[i] = c2;
  return next;
}

/** Removes a client (client_offline). */
export function removeClient(list: Client[], ev: ClientOffline): Client[] {
  return list.filter((x) => x.id !== ev.id);
}

/** Counts a public connection opening (+1) or closing (-1) on its client and mapping. */
export function countConn(list: Client[], ev: ConnEvent, delta: 1 | -1): Client[] {
  if (!ev.client_id) return list;
  return list.map((c) => {
    if (c.id !== ev.client_id) return c;
    const mappings = c.mappings.map((m) =>
      m.remote_port === ev.remote_port
        ? {
            ...m,
            live_conns: Math.max(0, m.live_conns + delta),
            total_conns: delta > 0 ? m.total_conns + 1 : m.total_conns,
            bytes_in: delta < 0 ? m.bytes_in + (ev.bytes_in ?? 0) : m.bytes_in,
            bytes_out: delta < 0 ? m.bytes_out + (ev.bytes_out ?? 0) : m.bytes_out,
          }
        : m,
    );
    return {
      ...c,
      mappings,
      live_conns: Math.max(0, c.live_conns + delta),
      bytes_in: delta < 0 ? c.bytes_in + (ev.bytes_in ?? 0) : c.bytes_in,
      bytes_out: delta < 0 ? c.bytes_out + (ev.bytes_out ?? 0) : c.bytes_out,
    };
  });
}

/** True when the client matches the search text (name, id, address, ports, mapping names). */
export function matchClient(c: Client, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (!q) return true;
  if (c.name.toLowerCase().includes(q) || c.id.toLowerCase().includes(q) || c.address.toLowerCase().includes(q)) return true;
  return c.mappings.some(
    (m) => String(m.remote_port) === q || String(m.local_port) === q || m.name.toLowerCase().includes(q),
  );
}
