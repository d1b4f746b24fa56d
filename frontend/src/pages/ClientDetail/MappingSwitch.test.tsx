// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import ClientDetailPage from './ClientDetailPage';
import { mockFetch, renderPage, sampleClient } from '../../test/fakes';
import { setCsrfToken } from '../../api/http';

describe('mapping switch in the client detail', () => {
  it('disables after confirmation and enables again, with the CSRF header', async () => {
    setCsrfToken('csrf-xyz');
    let enabled = true;
    const c = sampleClient();
    const detail = () => ({ ...c, mappings: c.mappings.map((m) => ({ ...m, enabled })), conns: [] });
    const calls = mockFetch({
      [`GET /api/clients/${c.id}`]: () => ({ body: detail() }),
      'POST /api/mappings/10022/disable': () => {
        enabled = false;
        return { body: { ok: true } };
      },
      'POST /api/mappings/10022/enable': () => {
        enabled = true;
        return { body: { ok: true } };
      },
    });
    renderPage(<ClientDetailPage />, { path: '/clients/:id', route: `/clients/${c.id}`, role: 'operator' });
    const sw = await screen.findByTestId('mapping-switch-10022');
    expect(sw).toHaveAttribute('aria-checked', 'true');
    const user = userEvent.setup();
    await user.click(sw);
    // Nothing is sent before the confirmation.
    expect(calls.some((x) => x.method === 'POST')).toBe(false);
    await user.click(await screen.findByTestId('confirm-disable-10022'));
    await waitFor(() => expect(screen.getByTestId('mapping-switch-10022')).toHaveAttribute('aria-checked', 'false'));
    const off = calls.find((x) => x.method === 'POST');
    expect(off?.url).toBe('/api/mappings/10022/disable');
    expect(off?.headers['X-CSRF-Token']).toBe('csrf-xyz');
    expect(await screen.findByText('Port 10022 disabled')).toBeInTheDocument();

    // Turning it back on needs no confirmation.
    await user.click(screen.getByTestId('mapping-switch-10022'));
    await waitFor(() => expect(screen.getByTestId('mapping-switch-10022')).toHaveAttribute('aria-checked', 'true'));
    expect(calls.filter((x) => x.method === 'POST').map((x) => x.url)).toEqual([
      '/api/mappings/10022/disable',
      '/api/mappings/10022/enable',
    ]);
  });

  it('shows a disabled mapping as off and reports a failure', async () => {
    const c = sampleClient();
    mockFetch({
      [`GET /api/clients/${c.id}`]: () => ({ body: { ...c, mappings: c.mappings.map((m) => ({ ...m, enabled: false })), conns: [] } }),
      'POST /api/mappings/10022/enable': () => ({ status: 500, body: { error: 'master unreachable' } }),
    });
    renderPage(<ClientDetailPage />, { path: '/clients/:id', route: `/clients/${c.id}`, role: 'operator' });
    const sw = await screen.findByTestId('mapping-switch-10022');
    expect(sw).toHaveAttribute('aria-checked', 'false');
    await userEvent.setup().click(sw);
    expect(await screen.findByText(/master unreachable/)).toBeInTheDocument();
    expect(screen.getByTestId('mapping-switch-10022')).toHaveAttribute('aria-checked', 'false');
  });
});
