// SPDX-License-Identifier: ISC
import { cloneElement, type ReactElement } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { act, screen, waitFor } from '@testing-library/react';
import OverviewPage from './OverviewPage';
import { fakeHub, mockFetch, renderPage, sampleClient } from '../../test/fakes';

// jsdom has no layout: give the charts a fixed size instead of a measured one.
vi.mock('recharts', async (importOriginal) => {
  const m = await importOriginal<typeof import('recharts')>();
  return {
    ...m,
    ResponsiveContainer: ({ children }: { children: ReactElement<{ width?: number; height?: number }> }) =>
      cloneElement(children, { width: 480, height: 240 }),
  };
});

const now = Math.floor(Date.now() / 1000);
const stats = {
  range: '1h',
  step: 60,
  points: [
    { t: now - 120, online_clients: 1, active_conns: 0, new_conns: 1, bytes_in: 100, bytes_out: 200 },
    { t: now - 60, online_clients: 2, active_conns: 1, new_conns: 3, bytes_in: 4096, bytes_out: 8192 },
  ],
  now: { online_clients: 2, mappings: 3, active_conns: 1, bytes_today_in: 1048576, bytes_today_out: 1048576 },
};

describe('OverviewPage', () => {
  it('shows the counters and updates them from stats ticks', async () => {
    const calls = mockFetch({
      'GET /api/stats': () => ({ body: stats }),
      'GET /api/clients': () => ({ body: { clients: [sampleClient()] } }),
    });
    const hub = fakeHub();
    renderPage(<OverviewPage />, { hub });
    await waitFor(() => expect(screen.getByTestId('stat-mappings')).toHaveTextContent('3'));
    expect(screen.getByTestId('stat-traffic')).toHaveTextContent('2.00 MiB');
    expect(calls.find((c) => c.url.startsWith('/api/stats'))?.url).toBe('/api/stats?range=1h');
    expect(screen.getByTestId('chart-clients').querySelector('.recharts-area-curve')).not.toBeNull();
    act(() => hub.emit('stats', { online_clients: 7, mappings: 9, active_conns: 4, bytes_in: 0, bytes_out: 0 }));
    await waitFor(() => expect(screen.getByTestId('stat-online')).toHaveTextContent('7'));
    expect(screen.getByTestId('stat-conns')).toHaveTextContent('4');
  });

  it('shows an empty chart state without points', async () => {
    mockFetch({
      'GET /api/stats': () => ({ body: { ...stats, points: [] } }),
      'GET /api/clients': () => ({ body: { clients: [] } }),
    });
    renderPage(<OverviewPage />);
    expect((await screen.findAllByText('No data in this range yet')).length).toBe(3);
  });
});
