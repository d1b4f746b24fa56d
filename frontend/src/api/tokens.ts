// SPDX-License-Identifier: ISC
// Per-client credentials: list, add (secret shown once), rotate, revoke.
import type { NewToken, Token, TokenWithSecret } from '../types/api';
import { get, post, request } from './http';

/** Lists every credential (active, expired and revoked). */
export async function listTokens(signal?: AbortSignal): Promise<Token[]> {
  const r = await get<{ tokens: Token[] | null }>('/api/tokens', undefined, { signal });
  return r.tokens ?? [];
}

/** Creates a credential; the reply carries its secret, this one time. */
export function addToken(t: NewToken): Promise<TokenWithSecret> {
  return post<TokenWithSecret>('/api/tokens', t);
}

/** Gives a credential a new secret (shown once); its sessions are closed. */
export function rotateToken(name: string): Promise<TokenWithSecret> {
  return post<TokenWithSecret>('/api/tokens/' + encodeURIComponent(name) + '/rotate');
}

/** Revokes a credential; the master closes its sessions at once. */
export function revokeToken(name: string): Promise<{ ok: boolean; disconnected: boolean }> {
  return request<{ ok: boolean; disconnected: boolean }>('DELETE', '/api/tokens/' + encodeURIComponent(name));
}
