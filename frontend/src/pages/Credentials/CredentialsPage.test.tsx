// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import CredentialsPage from './CredentialsPage';
import { toNewToken } from './form';
import { mockFetch, renderPage } from '../../test/fakes';
import { setCsrfToken } from '../../api/http';
import type { Token } from '../../types/api';

const now = Math.floor(Date.now() / 1000);

function sampleToken(over: Partial<Token> = {}): Token {
  return {
    name: 'laptop',
    state: 'active',
    ports: '10000-10010',
    expires: now + 30 * 86400,
    max_mappings: 2,
    allow: ['192.0.2.0/24'],
    deny: ['192.0.2.7'],
    created: now - 3600,
    last_used: now - 60,
    revoked: false,
    ...over,
  };
}

describe('CredentialsPage', () => {
  it('lists credentials with state, ports, expiry, limits and last use', async () => {
    mockFetch({
      'GET /api/tokens': () => ({
        body: { tokens: [sampleToken(), sampleToken({ name: 'old', state: 'revoked', revoked: true, expires: 0, ports: '', allow: [], deny: [], max_mappings: 0, last_used: 0 })] },
      }),
    });
    renderPage(<CredentialsPage />, { role: 'admin' });
    expect(await screen.findByText('laptop')).toBeInTheDocument();
    expect(screen.getByText('10000-10010')).toBeInTheDocument();
    expect(screen.getByText('192.0.2.0/24')).toBeInTheDocument();
    expect(screen.getByText('not 192.0.2.7')).toBeInTheDocument();
    expect(screen.getByText('never')).toBeInTheDocument();
    expect(screen.getByText('not yet')).toBeInTheDocument();
    expect(screen.getByText('revoked')).toBeInTheDocument();
    // A revoked credential offers no actions.
    expect(screen.getByTestId('revoke-laptop')).toBeInTheDocument();
    expect(screen.queryByTestId('revoke-old')).toBeNull();
  });

  it('offers no add, rotate or revoke to a viewer or an operator', async () => {
    mockFetch({ 'GET /api/tokens': () => ({ body: { tokens: [sampleToken()] } }) });
    renderPage(<CredentialsPage />, { role: 'operator' });
    expect(await screen.findByText('laptop')).toBeInTheDocument();
    expect(screen.queryByTestId('token-add')).toBeNull();
    expect(screen.queryByTestId('revoke-laptop')).toBeNull();
    expect(screen.queryByTestId('rotate-laptop')).toBeNull();
  });

  it('shows the empty state', async () => {
    mockFetch({ 'GET /api/tokens': () => ({ body: { tokens: [] } }) });
    renderPage(<CredentialsPage />, { role: 'admin' });
    expect(await screen.findByText('No credential yet')).toBeInTheDocument();
  });

  it('adds a credential and shows its secret once', async () => {
    setCsrfToken('csrf-tok');
    let list: Token[] = [];
    const calls = mockFetch({
      'GET /api/tokens': () => ({ body: { tokens: list } }),
      'POST /api/tokens': (c) => {
        list = [sampleToken({ name: 'pi' })];
        return { status: 201, body: { ...sampleToken({ name: (c.body as { name: string }).name }), secret: 'S3cr3t-S3cr3t-S3cr3t-S3cr3t-S3cr3t-abcdefg' } };
      },
    });
    renderPage(<CredentialsPage />, { role: 'admin' });
    const user = userEvent.setup();
    await screen.findByText('No credential yet');
    await user.click(screen.getByTestId('token-add'));
    await user.type(await screen.findByTestId('token-form-name'), 'pi');
    await user.type(screen.getByTestId('token-form-ports'), '10000-10010');
    await user.type(screen.getByTestId('token-form-expires'), '30d');
    await user.click(screen.getByTestId('token-add-ok'));
    const secret = await screen.findByTestId('token-secret');
    expect(secret).toHaveTextContent('S3cr3t-S3cr3t-S3cr3t-S3cr3t-S3cr3t-abcdefg');
    expect(screen.getByText(/shown only this once/)).toBeInTheDocument();
    const post = calls.find((x) => x.method === 'POST');
    expect(post?.body).toEqual({ name: 'pi', ports: '10000-10010', expires: '30d' });
    expect(post?.headers['X-CSRF-Token']).toBe('csrf-tok');
    await user.click(screen.getByTestId('secret-done'));
    await waitFor(() => expect(screen.queryByText(/S3cr3t-S3cr3t/)).toBeNull());
    expect(await screen.findByText('pi')).toBeInTheDocument();
  });

  it('refuses a bad name before calling the API', async () => {
    const calls = mockFetch({ 'GET /api/tokens': () => ({ body: { tokens: [] } }) });
    renderPage(<CredentialsPage />, { role: 'admin' });
    const user = userEvent.setup();
    await screen.findByText('No credential yet');
    await user.click(screen.getByTestId('token-add'));
    await user.type(await screen.findByTestId('token-form-name'), '-bad name');
    await user.click(screen.getByTestId('token-add-ok'));
    expect((await screen.findAllByText(/1 to 32 of/)).length).toBeGreaterThan(0);
    expect(calls.some((x) => x.method === 'POST')).toBe(false);
  });

  it('revokes only after confirmation, with DELETE and the CSRF header', async () => {
    setCsrfToken('csrf-rev');
    let list = [sampleToken()];
    const calls = mockFetch({
      'GET /api/tokens': () => ({ body: { tokens: list } }),
      'DELETE /api/tokens/laptop': () => {
        list = [sampleToken({ state: 'revoked', revoked: true })];
        return { body: { ok: true, disconnected: true } };
      },
    });
    renderPage(<CredentialsPage />, { role: 'admin' });
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('revoke-laptop'));
    expect(calls.some((x) => x.method === 'DELETE')).toBe(false);
    await user.click(await screen.findByTestId('confirm-revoke'));
    await waitFor(() => expect(calls.some((x) => x.method === 'DELETE')).toBe(true));
    const del = calls.find((x) => x.method === 'DELETE');
    expect(del?.url).toBe('/api/tokens/laptop');
    expect(del?.headers['X-CSRF-Token']).toBe('csrf-rev');
    const table = screen.getByTestId('tokens-table');
    expect(await within(table).findByText('revoked')).toBeInTheDocument();
  });

  it('rotates after confirmation and shows the new secret', async () => {
    mockFetch({
      'GET /api/tokens': () => ({ body: { tokens: [sampleToken()] } }),
      'POST /api/tokens/laptop/rotate': () => ({ body: { ...sampleToken(), secret: 'NEW-secret-NEW-secret-NEW-secret-NEW-secret' } }),
    });
    renderPage(<CredentialsPage />, { role: 'admin' });
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('rotate-laptop'));
    await user.click(await screen.findByTestId('confirm-rotate'));
    expect(await screen.findByTestId('token-secret')).toHaveTextContent('NEW-secret-NEW-secret');
  });

  it('builds the API body from the form without empty fields', () => {
    expect(toNewToken({ name: ' a ', ports: ' ', expires: '', max_mappings: 0, allow: [], deny: [' 10.0.0.0/8 '] })).toEqual({
      name: 'a',
      deny: ['10.0.0.0/8'],
    });
  });
});
