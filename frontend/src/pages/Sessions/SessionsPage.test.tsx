// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import SessionsPage from './SessionsPage';
import { mockFetch, renderPage } from '../../test/fakes';

const item = {
  id: '17',
  client_id: '9f2c0a11b2c3d4e5',
  name: 'gotunnel-demo',
  address: '127.0.0.1:53412',
  start: 1700000000,
  end: 1700000600,
  status: 'closed',
  reason: 'kicked by admin',
  ports: '10022',
  bytes_in: 1024,
  bytes_out: 2048,
};

describe('SessionsPage', () => {
  it('loads the filtered page from the URL and sends filters to the server', async () => {
    const calls = mockFetch({
      'GET /api/sessions': () => ({ body: { kind: 'sessions', total: 120, page: 2, per_page: 20, items: [item] } }),
    });
    renderPage(<SessionsPage />, { path: '/sessions', route: '/sessions?name=gotunnel-demo&page=2' });
    expect(await screen.findByText('kicked by admin')).toBeInTheDocument();
    expect(calls[0]?.url).toBe('/api/sessions?kind=sessions&name=gotunnel-demo&page=2&per_page=20');
    expect(screen.getByText('120 in total')).toBeInTheDocument();

    const user = userEvent.setup();
    const port = screen.getByTestId('filter-port').querySelector('input') ?? screen.getByTestId('filter-port');
    await user.type(port, '10022');
    await user.type(screen.getByTestId('filter-q'), 'kicked');
    await user.click(screen.getByTestId('filter-apply'));
    await waitFor(() =>
      expect(calls.at(-1)?.url).toBe('/api/sessions?kind=sessions&name=gotunnel-demo&port=10022&q=kicked&page=1&per_page=20'),
    );
    expect(screen.getByTestId('location')).toHaveTextContent('/sessions?name=gotunnel-demo&port=10022&q=kicked');
  });

  it('shows a Node column when the items carry node (cluster mode) and none without', async () => {
    mockFetch({ 'GET /api/sessions': () => ({ body: { kind: 'sessions', total: 1, page: 1, per_page: 20, items: [{ ...item, node: 'm1' }] } }) });
    const { unmount } = renderPage(<SessionsPage />, { path: '/sessions', route: '/sessions' });
    expect(await screen.findByTestId('history-node')).toHaveTextContent('m1');
    unmount();
    mockFetch({ 'GET /api/sessions': () => ({ body: { kind: 'sessions', total: 1, page: 1, per_page: 20, items: [item] } }) });
    renderPage(<SessionsPage />, { path: '/sessions', route: '/sessions' });
    expect(await screen.findByText('kicked by admin')).toBeInTheDocument();
    expect(screen.queryByTestId('history-node')).toBeNull();
  });

  it('shows the empty state', async () => {
    mockFetch({ 'GET /api/sessions': () => ({ body: { kind: 'conns', total: 0, page: 1, per_page: 20, items: [] } }) });
    renderPage(<SessionsPage />, { path: '/sessions', route: '/sessions?kind=conns' });
    expect(await screen.findByText('No record matches these filters')).toBeInTheDocument();
  });

  it('shows the server error (bad filter)', async () => {
    mockFetch({ 'GET /api/sessions': () => ({ status: 400, body: { error: 'bad port' } }) });
    renderPage(<SessionsPage />, { path: '/sessions', route: '/sessions' });
    expect(await screen.findByText('bad port')).toBeInTheDocument();
  });

  it('says how long history is kept, from /api/settings', async () => {
    mockFetch({
      'GET /api/sessions': () => ({ body: { kind: 'sessions', total: 1, page: 1, per_page: 20, items: [item] } }),
      'GET /api/settings': () => ({ body: { history_retention: 7776000, history_max_records: 10000000, audit_retention: 31536000 } }),
    });
    renderPage(<SessionsPage />, { path: '/sessions', route: '/sessions' });
    expect(await screen.findByTestId('retention')).toHaveTextContent('kept 90 days, up to 10,000,000 records');
  });

  it('says kept forever when history_retention is 0', async () => {
    mockFetch({
      'GET /api/sessions': () => ({ body: { kind: 'sessions', total: 0, page: 1, per_page: 20, items: [] } }),
      'GET /api/settings': () => ({ body: { history_retention: 0, history_max_records: 0, audit_retention: 0 } }),
    });
    renderPage(<SessionsPage />, { path: '/sessions', route: '/sessions' });
    expect(await screen.findByTestId('retention')).toHaveTextContent('kept forever');
  });
});
