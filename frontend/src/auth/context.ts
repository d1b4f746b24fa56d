// SPDX-License-Identifier: ISC
// Authentication state, loaded once at start-up from /api/me.
import { createContext, useContext } from 'react';
import type { Role } from '../types/api';

export type AuthStatus = 'loading' | 'anonymous' | 'authenticated';

export interface Auth {
  status: AuthStatus;
  user: string;
  /** The user's role; outside a session, the least privileged. */
  role: Role;
  /** Resolves, or throws ApiError (401 "otp required" asks for a code). */
  login: (username: string, password: string, otp?: string) => Promise<void>;
  logout: () => Promise<void>;
  /** Forgets the session locally (after a 401). */
  expire: () => void;
}

export const AuthContext = createContext<Auth>({
  status: 'loading',
  user: '',
  role: 'viewer',
  login: async () => undefined,
  logout: async () => undefined,
  expire: () => undefined,
});

/** The current session. */
export function useAuth(): Auth {
  return useContext(AuthContext);
}
