// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import AdminSessionsPage from './AdminSessionsPage';
import { mockFetch, renderPage } from '../../test/fakes';
import { setCsrfToken } from '../../api/http';

const now = Math.floor(Date.now() / 1000);
const sessions = [
  { handle: 'aaaaaaaaaaaaaaaa', user: 'tester', address: '127.0.0.1', created: now - 60, expires: now + 3600, current: true },
  { handle: 'bbbbbbbbbbbbbbbb', user: 'tester', address: '10.0.0.2', created: now - 600, expires: now + 3000, current: false },
  { handle: 'cccccccccccccccc', user: 'boss', address: '10.0.0.3', created: now - 900, expires: now + 2000, current: false },
];

describe('AdminSessionsPage', () => {
  it('lets a viewer revoke its own sessions only, with the CSRF header', async () => {
    setCsrfToken('csrf-x');
    const calls = mockFetch({
      'GET /api/admin-sessions': () => ({ body: { items: sessions, total: 3 } }),
      'DELETE /api/admin-sessions/bbbbbbbbbbbbbbbb': () => ({ body: { ok: true } }),
    });
    renderPage(<AdminSessionsPage />, { role: 'viewer' });
    expect(await screen.findByText('10.0.0.2')).toBeInTheDocument();
    expect(screen.getByText('this browser')).toBeInTheDocument();
    expect(screen.getByTestId('revoke-aaaaaaaaaaaaaaaa')).toBeInTheDocument();
    expect(screen.queryByTestId('revoke-cccccccccccccccc')).toBeNull();
    const user = userEvent.setup();
    await user.click(screen.getByTestId('revoke-bbbbbbbbbbbbbbbb'));
    await user.click(await screen.findByTestId('confirm-revoke'));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE')).toBe(true));
    const del = calls.find((c) => c.method === 'DELETE');
    expect(del?.url).toBe('/api/admin-sessions/bbbbbbbbbbbbbbbb');
    expect(del?.headers['X-CSRF-Token']).toBe('csrf-x');
  });

  it('lets an admin revoke anyone', async () => {
    mockFetch({ 'GET /api/admin-sessions': () => ({ body: { items: sessions, total: 3 } }) });
    renderPage(<AdminSessionsPage />, { role: 'admin' });
    expect(await screen.findByTestId('revoke-cccccccccccccccc')).toBeInTheDocument();
  });
});
