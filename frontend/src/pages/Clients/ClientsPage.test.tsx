// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { act, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import ClientsPage from './ClientsPage';
import { fakeHub, mockFetch, renderPage, sampleClient } from '../../test/fakes';
import { setCsrfToken } from '../../api/http';

describe('ClientsPage', () => {
  it('shows the empty state when no client is online', async () => {
    mockFetch({ 'GET /api/clients': () => ({ body: { clients: [] } }) });
    renderPage(<ClientsPage />, { path: '/', route: '/' });
    expect(await screen.findByText('No client is online')).toBeInTheDocument();
  });

  it('shows an error with retry when the API fails', async () => {
    mockFetch({ 'GET /api/clients': () => ({ status: 500, body: { error: 'database unavailable' } }) });
    renderPage(<ClientsPage />);
    expect(await screen.findByText('database unavailable')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Try again/ })).toBeInTheDocument();
  });

  it('lists clients, follows live events without reloading, and searches', async () => {
    const calls = mockFetch({ 'GET /api/clients': () => ({ body: { clients: [sampleClient()] } }) });
    const hub = fakeHub();
    renderPage(<ClientsPage />, { hub });
    expect(await screen.findByText('gotunnel-demo')).toBeInTheDocument();
    expect(screen.getByText('ssh :10022')).toBeInTheDocument();
    expect(screen.queryByTestId('client-credential-tag')).toBeNull();
    const loads = calls.length;

    act(() => hub.emit('client_online', sampleClient({ id: 'c2', name: 'second-client', mappings: [] })));
    expect(await screen.findByText('second-client')).toBeInTheDocument();
    expect(screen.getByTestId('client-count')).toHaveTextContent('2 online');

    act(() => hub.emit('client_offline', { id: 'c2', name: 'second-client' }));
    await waitFor(() => expect(screen.queryByText('second-client')).toBeNull());
    expect(calls.length).toBe(loads);

    const user = userEvent.setup();
    await user.type(screen.getByTestId('client-search').querySelector('input') ?? screen.getByTestId('client-search'), 'nomatch');
    expect(await screen.findByText('No client matches the search')).toBeInTheDocument();
  });

  it('shows a Node column only when the items carry node (cluster mode)', async () => {
    mockFetch({
      'GET /api/clients': () => ({
        body: { clients: [sampleClient({ node: 'm1' }), sampleClient({ id: 'c3', name: 'on-m3', node: 'm3' })] },
      }),
    });
    renderPage(<ClientsPage />);
    expect(await screen.findByText('on-m3')).toBeInTheDocument();
    expect(screen.getByRole('columnheader', { name: /Node/ })).toBeInTheDocument();
    expect(screen.getAllByTestId('client-node').map((e) => e.textContent).sort()).toEqual(['m1', 'm3']);
  });

  it('has no Node column without cluster mode', async () => {
    mockFetch({ 'GET /api/clients': () => ({ body: { clients: [sampleClient()] } }) });
    renderPage(<ClientsPage />);
    expect(await screen.findByText('gotunnel-demo')).toBeInTheDocument();
    expect(screen.queryByTestId('client-node')).toBeNull();
    expect(screen.queryByRole('columnheader', { name: /^Node/ })).toBeNull();
  });

  it('shows the type and domains of virtual-host mappings', async () => {
    const web = { name: 'web', remote_port: 80, type: 'http', domains: ['a.example.org', 'www.a.example.org'],
      local_ip: '127.0.0.1', local_port: 8080, since: 1700000000, live_conns: 0, total_conns: 0, bytes_in: 0, bytes_out: 0 };
    const tls = { ...web, name: 'tls', remote_port: 443, type: 'https', domains: ['b.example.org'] };
    mockFetch({ 'GET /api/clients': () => ({ body: { clients: [sampleClient({ mappings: [web, tls] })] } }) });
    renderPage(<ClientsPage />);
    expect(await screen.findByText('web http a.example.org +1')).toBeInTheDocument();
    expect(screen.getByText('tls https b.example.org')).toBeInTheDocument();
  });

  it('tags a client registered with a per-client credential', async () => {
    mockFetch({ 'GET /api/clients': () => ({ body: { clients: [sampleClient({ credential: 'laptop' })] } }) });
    renderPage(<ClientsPage />);
    expect(await screen.findByTestId('client-credential-tag')).toHaveTextContent('laptop');
  });

  it('marks udp mappings with their type', async () => {
    const c = sampleClient();
    c.mappings = [
      ...c.mappings,
      { name: 'dns', type: 'udp', remote_port: 10053, local_ip: '127.0.0.1', local_port: 53, since: 1700000000, live_conns: 2, total_conns: 3, bytes_in: 10, bytes_out: 20 },
    ];
    mockFetch({ 'GET /api/clients': () => ({ body: { clients: [c] } }) });
    renderPage(<ClientsPage />);
    expect(await screen.findByText('dns :10053/udp')).toBeInTheDocument();
    expect(screen.getByText('ssh :10022')).toBeInTheDocument();
  });

  it('keeps the last data and shows a banner when a refresh fails', async () => {
    let up = true;
    mockFetch({
      'GET /api/clients': () => (up ? { body: { clients: [sampleClient()] } } : { status: 500, body: { error: 'database unavailable' } }),
    });
    renderPage(<ClientsPage />);
    expect(await screen.findByText('gotunnel-demo')).toBeInTheDocument();
    up = false;
    const user = userEvent.setup();
    await user.click(screen.getByTestId('clients-refresh'));
    expect(await screen.findByTestId('stale-banner')).toHaveTextContent('database unavailable');
    expect(screen.getByText('gotunnel-demo')).toBeInTheDocument();
    up = true;
    await user.click(screen.getByTestId('clients-refresh'));
    await waitFor(() => expect(screen.queryByTestId('stale-banner')).toBeNull());
  });

  it('disconnects after confirmation with the CSRF header', async () => {
    setCsrfToken('csrf-abc');
    const c = sampleClient();
    const calls = mockFetch({
      'GET /api/clients': () => ({ body: { clients: [c] } }),
      [`POST /api/clients/${c.id}/disconnect`]: () => ({ body: { ok: true } }),
    });
    renderPage(<ClientsPage />, { role: 'operator' });
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('disconnect-gotunnel-demo'));
    expect(calls.some((x) => x.method === 'POST')).toBe(false);
    await user.click(await screen.findByTestId('confirm-disconnect'));
    await waitFor(() => expect(screen.queryByTestId('client-name')).toBeNull());
    const post = calls.find((x) => x.method === 'POST');
    expect(post?.url).toBe(`/api/clients/${c.id}/disconnect`);
    expect(post?.headers['X-CSRF-Token']).toBe('csrf-abc');
  });

  it('shows a viewer no disconnect button', async () => {
    mockFetch({ 'GET /api/clients': () => ({ body: { clients: [sampleClient()] } }) });
    renderPage(<ClientsPage />, { role: 'viewer' });
    expect(await screen.findByText('gotunnel-demo')).toBeInTheDocument();
    expect(screen.queryByTestId('disconnect-gotunnel-demo')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Disconnect' })).toBeNull();
  });
});
