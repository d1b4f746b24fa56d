// SPDX-License-Identifier: ISC
// Test doubles: a routed fetch, a controllable EventSource, providers around a page.
import type { ReactNode } from 'react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router';
import { App as AntApp } from 'antd';
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { I18nProvider } from '../i18n/I18nProvider';
import { EventsContext, type EventsHub, type Listener } from '../hooks/events';
import type { EventMap, EventName } from '../api/events';
import { AuthContext } from '../auth/context';
import type { Role } from '../types/api';

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  credentials: RequestCredentials | undefined;
}

export type Handler = (call: Call) => { status?: number; body?: unknown; headers?: Record<string, string> };

/** Replaces fetch with a table "METHOD /path" -> handler; returns the recorded calls. */
export function mockFetch(routes: Record<string, Handler>): Call[] {
  const calls: Call[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? 'GET').toUpperCase();
    const call: Call = {
      method,
      url,
      headers: (init?.headers as Record<string, string>) ?? {},
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
      credentials: init?.credentials,
    };
    calls.push(call);
    const path = url.split('?')[0];
    const h = routes[`${method} ${path}`];
    if (!h) return new Response(JSON.stringify({ error: 'not found' }), { status: 404 });
    const r = h(call);
    return new Response(r.body === undefined ? '' : JSON.stringify(r.body), {
      status: r.status ?? 200,
      headers: { 'Content-Type': 'application/json', ...(r.headers ?? {}) },
    });
  });
  return calls;
}

/** An events hub the test drives by hand. */
export function fakeHub(): EventsHub & { emit: <K extends EventName>(n: K, d: EventMap[K]) => void } {
  const listeners = new Set<Listener>();
  return {
    state: 'live',
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    restart: () => undefined,
    emit: (n, d) => {
      for (const fn of listeners) fn(n, d);
    },
  };
}

/** Shows the router's current location (to assert redirects). */
export function LocationProbe() {
  const loc = useLocation();
  return <div data-testid="location">{loc.pathname + loc.search}</div>;
}

/** Renders a page at a path with language, antd App, router, a fake event
 * hub and a signed-in user of role (default: viewer, the least). */
export function renderPage(
  element: ReactNode,
  opts: { path?: string; route?: string; hub?: EventsHub; role?: Role; lang?: 'en' | 'zh' } = {},
) {
  const hub = opts.hub ?? fakeHub();
  const auth = {
    status: 'authenticated' as const,
    user: 'tester',
    role: opts.role ?? 'viewer',
    login: async () => undefined,
    logout: async () => undefined,
    expire: () => undefined,
  };
  return render(
    <I18nProvider lang={opts.lang ?? 'en'}>
      <AntApp>
        <AuthContext.Provider value={auth}>
          <EventsContext.Provider value={hub}>
            <MemoryRouter initialEntries={[opts.route ?? '/']}>
              <Routes>
                <Route path={opts.path ?? '/'} element={element} />
                <Route path="*" element={null} />
              </Routes>
              <LocationProbe />
            </MemoryRouter>
          </EventsContext.Provider>
        </AuthContext.Provider>
      </AntApp>
    </I18nProvider>,
  );
}

/** A sample online client. */
export function sampleClient(over: Partial<import('../types/api').Client> = {}) {
  return {
    id: '9f2c0a11b2c3d4e5',
    name: 'gotunnel-demo',
    address: '127.0.0.1:53412',
    connected_since: Math.floor(Date.now() / 1000) - 120,
    last_heartbeat: Math.floor(Date.now() / 1000) - 5,
    worker: 4242,
    mappings: [
      { name: 'ssh', remote_port: 10022, local_ip: '127.0.0.1', local_port: 22, since: 1700000000, live_conns: 1, total_conns: 5, bytes_in: 10, bytes_out: 20 },
    ],
    live_conns: 1,
    bytes_in: 10,
    bytes_out: 20,
    ...over,
  };
}
