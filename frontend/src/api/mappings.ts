// SPDX-License-Identifier: ISC
// The operator's switch of a mapping (POST /api/mappings/PORT/disable|enable).
import { post } from './http';

/** Asks the master to accept (true) or refuse (false) public connections on port. */
export async function setMappingEnabled(port: number, enabled: boolean): Promise<void> {
  await post<{ ok: boolean }>(`/api/mappings/${port}/${enabled ? 'enable' : 'disable'}`);
}
