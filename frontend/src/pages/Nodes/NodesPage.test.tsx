// SPDX-License-Identifier: ISC
import { afterEach, describe, expect, it, vi } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import NodesPage from './NodesPage';
import { mockFetch, renderPage } from '../../test/fakes';

const now = Math.floor(Date.now() / 1000);
const nodes = [
  { name: 'm1', advertise_addr: '127.0.0.11', status: 'online', last_seen: now - 1, clients: 3, connections: 7, version: '0.1.0' },
  { name: 'm2', advertise_addr: '127.0.0.12', status: 'offline', last_seen: now - 90, clients: 0, connections: 0, version: '0.1.0' },
];

describe('NodesPage', () => {
  afterEach(() => vi.restoreAllMocks());

  it('shows every node with its status, counts and version', async () => {
    mockFetch({ 'GET /api/nodes': () => ({ body: { items: nodes } }) });
    renderPage(<NodesPage />);
    expect(await screen.findByText('m1')).toBeInTheDocument();
    expect(screen.getByText('m2')).toBeInTheDocument();
    expect(screen.getByTestId('node-status-online')).toHaveTextContent('online');
    expect(screen.getByTestId('node-status-offline')).toHaveTextContent('offline');
    expect(screen.getByTestId('node-status-online').className).toMatch(/success/);
    expect(screen.getByTestId('node-status-offline').className).toMatch(/error/);
    expect(screen.getByText('127.0.0.12')).toBeInTheDocument();
    expect(screen.getByText('7')).toBeInTheDocument();
    expect(screen.queryByTestId('store-unavailable')).toBeNull();
  });

  it('says the store is unavailable on 503 instead of showing stale nodes', async () => {
    let down = false;
    mockFetch({
      'GET /api/nodes': () => (down ? { status: 503, body: { error: 'cluster store unavailable' } } : { body: { items: nodes } }),
    });
    renderPage(<NodesPage />);
    expect(await screen.findByText('m1')).toBeInTheDocument();
    down = true;
    await userEvent.setup().click(screen.getByTestId('nodes-refresh'));
    expect(await screen.findByTestId('store-unavailable')).toHaveTextContent('cluster store is unavailable');
    expect(screen.queryByText('m1')).toBeNull();
    expect(screen.queryByTestId('nodes-table')).toBeNull();
  });
});
