// SPDX-License-Identifier: ISC
// Session API: login, logout, who am I.
import type { LoginReply, LoginRequest, Me } from '../types/api';
import { get, post, setCsrfToken } from './http';

/** The error a 401 login carries when the user's one-time code is missing. */
export const OTP_REQUIRED = 'otp required';

/**
 * Logs in; on success the CSRF token is remembered for later requests.
 * A user with two-factor login also sends otp (401 "otp required" without).
 */
export async function login(username: string, password: string, otp?: string): Promise<LoginReply> {
  const body: LoginRequest = { username, password };
  if (otp) body.otp = otp;
  const r = await post<LoginReply>('/api/login', body, { noAuthRedirect: true });
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
