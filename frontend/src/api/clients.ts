// SPDX-License-Identifier: ISC
// Online clients and their mappings.
import type { Client, ClientDetail, MappingRow } from '../types/api';
import { get, post } from './http';

/** Lists the online clients. */
export async function listClients(signal?: AbortSignal): Promise<Client[]> {
  const r = await get<{ clients: Client[] | null }>('/api/clients', undefined, { signal });
  return r.clients ?? [];
}

/** One online client with its live public connections. */
export function getClient(id: string, signal?: AbortSignal): Promise<ClientDetail> {
  return get<ClientDetail>('/api/clients/' + encodeURIComponent(id), undefined, { signal });
}

/** Asks the master to close the client's control session. */
export async function disconnectClient(id: string): Promise<void> {
  await post<{ ok: boolean }>('/api/clients/' + encodeURIComponent(id) + '/disconnect');
}

/** Lists every live mapping. */
export async function listMappings(signal?: AbortSignal): Promise<MappingRow[]> {
  const r = await get<{ mappings: MappingRow[] | null }>('/api/mappings', undefined, { signal });
  return r.mappings ?? [];
}
