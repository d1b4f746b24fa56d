// SPDX-License-Identifier: ISC
// Loads the session once, offers login/logout, and turns API 401s into the login page.
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { Flex, Spin } from 'antd';
import * as authApi from '../api/auth';
import { loginPath, setUnauthorizedHandler } from '../api/http';
import { AuthContext, useAuth, type AuthStatus } from './context';
import { parseRole } from '../access';
import type { Role } from '../types/api';

/** Holds the session state for the app. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthStatus>('loading');
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const navigate = useNavigate();

  useEffect(() => {
    let live = true;
    authApi
      .me()
      .then((m) => {
        if (!live) return;
        setUser(m.user);
        setRole(parseRole(m.role));
        setStatus('authenticated');
      })
      .catch(() => {
        if (live) setStatus('anonymous');
      });
    return () => {
      live = false;
    };
  }, []);

  const expire = useCallback(() => {
    setUser('');
    setRole('viewer');
    setStatus('anonymous');
  }, []);

  // Any API call answered 401 ends the session here and asks for a login,
  // remembering where the user was.
  useEffect(() => {
    setUnauthorizedHandler(() => {
      expire();
      const here = window.location.pathname + window.location.search;
      if (!window.location.pathname.startsWith('/login')) navigate(loginPath(here), { replace: true });
    });
  }, [expire, navigate]);

  const login = useCallback(async (username: string, password: string, otp?: string) => {
    const r = await authApi.login(username, password, otp);
    setUser(r.user);
    setRole(parseRole(r.role));
    setStatus('authenticated');
  }, []);

  const logout = useCallback(async () => {
    try {
      await authApi.logout();
    } finally {
      expire();
      navigate('/login', { replace: true });
    }
  }, [expire, navigate]);

  const value = useMemo(
    () => ({ status, user, role, login, logout, expire }),
    [status, user, role, login, logout, expire],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** A centred spinner for the whole page. */
export function FullPageSpin() {
  return (
    <Flex align="center" justify="center" style={{ minHeight: '100vh' }} data-testid="page-loading">
      <Spin size="large" />
    </Flex>
  );
}

/** Renders its children only with a session; otherwise sends to /login?next=. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const loc = useLocation();
  if (status === 'loading') return <FullPageSpin />;
  if (status !== 'authenticated') return <Navigate to={loginPath(loc.pathname + loc.search)} replace />;
  return <>{children}</>;
}
