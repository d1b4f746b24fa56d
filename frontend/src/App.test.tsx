// SPDX-License-Identifier: ISC
import { describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import App from './App';
import { mockFetch, sampleClient } from './test/fakes';

class NoopES {
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  addEventListener() {}
  close() {}
}

describe('App (auth flow)', () => {
  it('sends every console route to /login without a session, and loads no data', async () => {
    for (const route of ['/', '/clients', '/clients/abc', '/sessions?kind=conns', '/audit']) {
      window.history.replaceState(null, '', route);
      const calls = mockFetch({ 'GET /api/me': () => ({ status: 401, body: { error: 'authentication required' } }) });
      const { unmount } = render(<App />);
      await screen.findByTestId('login-card');
      const expected = route === '/' ? '/login' : '/login?next=' + encodeURIComponent(route);
      expect(window.location.pathname + window.location.search).toBe(expected);
      expect(calls.map((c) => c.url)).toEqual(['/api/me']);
      unmount();
      vi.restoreAllMocks();
    }
  });

  it('shows an error on a wrong password, then logs in and returns to the page asked for', async () => {
    vi.stubGlobal('EventSource', NoopES);
    window.history.replaceState(null, '', '/login?next=%2Fclients');
    let good = false;
    mockFetch({
      'GET /api/me': () => (good ? { body: { user: 'admin', csrf_token: 'c1', expires: 0 } } : { status: 401, body: { error: 'authentication required' } }),
      'POST /api/login': (c) => {
        const b = c.body as { username: string; password: string };
        if (b.password !== 'right') return { status: 401, body: { error: 'invalid username or password' } };
        good = true;
        return { body: { user: 'admin', csrf_token: 'c1' } };
      },
      'GET /api/clients': () => ({ body: { clients: [sampleClient()] } }),
    });
    render(<App />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Username'), 'admin');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByTestId('login-submit'));
    expect(await screen.findByTestId('login-error')).toHaveTextContent('Invalid username or password');
    expect(screen.queryByText('gotunnel-demo')).toBeNull();

    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'right');
    await user.click(screen.getByTestId('login-submit'));
    await waitFor(() => expect(window.location.pathname).toBe('/clients'));
    expect(await screen.findByText('gotunnel-demo')).toBeInTheDocument();
    vi.unstubAllGlobals();
  });

  it('shows Nodes in the menu only when /api/nodes exists (cluster mode)', async () => {
    vi.stubGlobal('EventSource', NoopES);
    for (const nodes of [404, 200, 503]) {
      window.history.replaceState(null, '', '/clients');
      const calls = mockFetch({
        'GET /api/me': () => ({ body: { user: 'admin', csrf_token: 'c1', expires: 0 } }),
        'GET /api/clients': () => ({ body: { clients: [sampleClient()] } }),
        'GET /api/nodes': () =>
          nodes === 200 ? { body: { items: [] } } : { status: nodes, body: { error: nodes === 404 ? 'not in cluster mode' : 'cluster store unavailable' } },
      });
      const { unmount } = render(<App />);
      expect(await screen.findByText('gotunnel-demo')).toBeInTheDocument();
      const menu = screen.getByTestId('nav-menu');
      if (nodes === 404) {
        // The answer has come and been handled: still no Nodes entry.
        await waitFor(() => expect(calls.some((c) => c.url === '/api/nodes')).toBe(true));
        await new Promise((r) => setTimeout(r, 100));
        expect(menu).toHaveTextContent('Audit log');
        expect(menu).not.toHaveTextContent('Nodes');
      } else {
        await waitFor(() => expect(menu).toHaveTextContent('Nodes'));
      }
      unmount();
      vi.restoreAllMocks();
    }
    vi.unstubAllGlobals();
  });

  it('shows the throttling message on 429', async () => {
    window.history.replaceState(null, '', '/login');
    mockFetch({
      'GET /api/me': () => ({ status: 401, body: { error: 'authentication required' } }),
      'POST /api/login': () => ({ status: 429, body: { error: 'too many failed logins' }, headers: { 'Retry-After': '30' } }),
    });
    render(<App />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Username'), 'admin');
    await user.type(screen.getByLabelText('Password'), 'x');
    await user.click(screen.getByTestId('login-submit'));
    expect(await screen.findByTestId('login-error')).toHaveTextContent('Try again in 30 s');
  });

  it('asks for the one-time code when the server requires it, then sends it', async () => {
    vi.stubGlobal('EventSource', NoopES);
    window.history.replaceState(null, '', '/login?next=%2Fclients');
    let good = false;
    const calls = mockFetch({
      'GET /api/me': () =>
        good
          ? { body: { user: 'ops', role: 'viewer', csrf_token: 'c1', expires: 0 } }
          : { status: 401, body: { error: 'authentication required' } },
      'POST /api/login': (c) => {
        const b = c.body as { username: string; password: string; otp?: string };
        if (b.password !== 'right') return { status: 401, body: { error: 'invalid username or password' } };
        if (b.otp === undefined) return { status: 401, body: { error: 'otp required' } };
        if (b.otp !== '123456') return { status: 401, body: { error: 'invalid username or password' } };
        good = true;
        return { body: { user: 'ops', role: 'viewer', csrf_token: 'c1' } };
      },
      'GET /api/clients': () => ({ body: { clients: [sampleClient()] } }),
    });
    render(<App />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Username'), 'ops');
    await user.type(screen.getByLabelText('Password'), 'right');
    expect(screen.queryByTestId('login-otp')).toBeNull();
    await user.click(screen.getByTestId('login-submit'));
    // No error: a prompt and the code field.
    expect(await screen.findByTestId('otp-prompt')).toBeInTheDocument();
    expect(screen.queryByTestId('login-error')).toBeNull();
    const otp = screen.getByLabelText('One-time code');
    await user.type(otp, '000000');
    await user.click(screen.getByTestId('login-submit'));
    expect(await screen.findByTestId('login-error')).toHaveTextContent('Invalid username or password');
    expect(screen.getByLabelText('One-time code')).toBeInTheDocument();
    await user.clear(screen.getByLabelText('One-time code'));
    await user.type(screen.getByLabelText('One-time code'), '123456');
    await user.click(screen.getByTestId('login-submit'));
    await waitFor(() => expect(window.location.pathname).toBe('/clients'));
    expect(await screen.findByText('gotunnel-demo')).toBeInTheDocument();
    const logins = calls.filter((c) => c.url === '/api/login').map((c) => c.body);
    expect(logins).toEqual([
      { username: 'ops', password: 'right' },
      { username: 'ops', password: 'right', otp: '000000' },
      { username: 'ops', password: 'right', otp: '123456' },
    ]);
    // Signed in as a viewer: the Clients page offers no disconnect.
    expect(screen.queryByTestId('disconnect-gotunnel-demo')).toBeNull();
    vi.unstubAllGlobals();
  });
});
