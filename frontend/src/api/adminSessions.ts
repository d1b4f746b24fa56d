// SPDX-License-Identifier: ISC
// Console login sessions: list (own, or everyone's for an admin) and revoke.
import type { AdminSession } from '../types/api';
import { get, request } from './http';

/** The signed-in user's console sessions (every user's for an admin). */
export function listAdminSessions(signal?: AbortSignal): Promise<{ items: AdminSession[]; total: number }> {
  return get<{ items: AdminSession[]; total: number }>('/api/admin-sessions', undefined, { signal });
}

/** Ends the session with this handle (sends the CSRF header). */
export function revokeAdminSession(handle: string): Promise<{ ok: boolean }> {
  return request<{ ok: boolean }>('DELETE', `/api/admin-sessions/${encodeURIComponent(handle)}`);
}
