// SPDX-License-Identifier: ISC
// Authentication state, loaded once at start-up from /api/me.
import { createContext, useContext } from 'react';

export type AuthStatus = 'loading' | 'anonymous' | 'authenticated';

export interface Auth {
  status: AuthStatus;
  user: string;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  /** Forgets the session locally (after a 401). */
  expire: () => void;
}

export const AuthContext = createContext<Auth>({
  status: 'loading',
  user: '',
  login: async () => undefined,
  logout: async () => undefined,
  expire: () => undefined,
});

/** The current session. */
export function useAuth(): Auth {
  return useContext(AuthContext);
}
