// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import AlertsPage from './AlertsPage';
import { mockFetch, renderPage } from '../../test/fakes';

const now = Math.floor(Date.now() / 1000);
const items = [
  { id: '3', receiver: 'ops', alert: 'auth_failures', key: '203.0.113.9', state: 'firing', since: now - 30, end: 0,
    detail: { failures_last_minute: 42, auth_failures_per_min: 20 } },
  { id: '2', receiver: 'ops', alert: 'traffic_quota', key: 'edge-7', state: 'resolved', since: now - 7200, end: now - 60,
    detail: { bytes_today: 3 * 1024 * 1024, quota_bytes_per_day: 1024 * 1024 } },
];

describe('AlertsPage', () => {
  it('shows firing and past alerts to a viewer, and filters on the server', async () => {
    const calls = mockFetch({
      'GET /api/alerts': (c) =>
        c.url.includes('state=firing')
          ? { body: { items: [items[0]], total: 1, firing: 1, page: 1, per_page: 50 } }
          : { body: { items, total: 2, firing: 1, page: 1, per_page: 50 } },
    });
    renderPage(<AlertsPage />, { role: 'viewer' });
    expect(await screen.findByText('203.0.113.9')).toBeInTheDocument();
    expect(screen.getByText('edge-7')).toBeInTheDocument();
    expect(screen.getByTestId('alerts-firing')).toHaveTextContent('1 firing');
    expect(screen.getByText('Auth failures')).toBeInTheDocument();
    expect(screen.getByText('bytes_today: 3.00 MiB')).toBeInTheDocument();
    const user = userEvent.setup();
    await user.click(screen.getByText('Firing'));
    await waitFor(() => expect(calls.some((c) => c.url.includes('state=firing'))).toBe(true));
    await waitFor(() => expect(screen.queryByText('edge-7')).toBeNull());
  });

  it('says so when there is no alert, in Chinese too', async () => {
    mockFetch({ 'GET /api/alerts': () => ({ body: { items: [], total: 0, firing: 0, page: 1, per_page: 50 } }) });
    renderPage(<AlertsPage />, { role: 'viewer', lang: 'zh' });
    expect(await screen.findByText('当前无告警')).toBeInTheDocument();
    expect(screen.getByText('暂无告警')).toBeInTheDocument();
  });
});
