// SPDX-License-Identifier: ISC
// Session API: login, logout, who am I.
import type { LoginReply, Me } from '../types/api';
import { get, post, setCsrfToken } from './http';

/** Logs in; on success the CSRF token is remembered for later requests. */
export async function login(username: string, password: string): Promise<LoginReply> {
  const r = await post<LoginReply>('/api/login', { username, password }, { noAuthRedirect: true });
  setCsrfToken(r.csrf_token);
  return r;
}

/** Ends the session on the server and forgets the CSRF token. */
export async function logout(): Promise<void> {
  try {
    await post<{ ok: boolean }>('/api/logout', undefined, { noAuthRedirect: true });
  } finally {
    setCsrfToken('');
  }
}

/** Returns the current session (throws ApiError 401 without one). */
export async function me(): Promise<Me> {
  const r = await get<Me>('/api/me', undefined, { noAuthRedirect: true });
  setCsrfToken(r.csrf_token);
  return r;
}
