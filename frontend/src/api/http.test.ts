// SPDX-License-Identifier: ISC
import { describe, expect, it, vi } from 'vitest';
import { ApiError, apiUrl, get, loginPath, post, setCsrfToken, setUnauthorizedHandler } from './http';
import { mockFetch } from '../test/fakes';

describe('http wrapper', () => {
  it('sends the cookie same-origin and no CSRF header on GET', async () => {
    setCsrfToken('tok123');
    const calls = mockFetch({ 'GET /api/clients': () => ({ body: { clients: [] } }) });
    await get('/api/clients');
    expect(calls[0]?.credentials).toBe('same-origin');
    expect(calls[0]?.headers['X-CSRF-Token']).toBeUndefined();
  });

  it('sends the CSRF header on POST', async () => {
    setCsrfToken('tok123');
    const calls = mockFetch({ 'POST /api/clients/a/disconnect': () => ({ body: { ok: true } }) });
    await post('/api/clients/a/disconnect');
    expect(calls[0]?.headers['X-CSRF-Token']).toBe('tok123');
    expect(calls[0]?.credentials).toBe('same-origin');
  });

  it('maps 401 to the unauthorized handler and throws', async () => {
    const fn = vi.fn();
    setUnauthorizedHandler(fn);
    mockFetch({ 'GET /api/stats': () => ({ status: 401, body: { error: 'authentication required' } }) });
    await expect(get('/api/stats')).rejects.toMatchObject({ status: 401, message: 'authentication required' });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('does not redirect when asked not to (login)', async () => {
    const fn = vi.fn();
    setUnauthorizedHandler(fn);
    mockFetch({ 'POST /api/login': () => ({ status: 401, body: { error: 'invalid username or password' } }) });
    await expect(post('/api/login', { username: 'a', password: 'b' }, { noAuthRedirect: true })).rejects.toBeInstanceOf(ApiError);
    expect(fn).not.toHaveBeenCalled();
  });

  it('reads Retry-After on 429', async () => {
    mockFetch({ 'POST /api/login': () => ({ status: 429, body: { error: 'too many failed logins' }, headers: { 'Retry-After': '42' } }) });
    await expect(post('/api/login', {}, { noAuthRedirect: true })).rejects.toMatchObject({ status: 429, retryAfter: 42 });
  });

  it('turns a network failure into status 0', async () => {
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('Failed to fetch'));
    await expect(get('/api/me')).rejects.toMatchObject({ status: 0 });
  });

  it('builds URLs without empty parameters', () => {
    expect(apiUrl('/api/sessions', { kind: 'conns', name: '', port: 10022, q: undefined })).toBe('/api/sessions?kind=conns&port=10022');
    expect(apiUrl('/api/x')).toBe('/api/x');
  });

  it('builds the login path with the return page', () => {
    expect(loginPath('/clients?x=1')).toBe('/login?next=%2Fclients%3Fx%3D1');
    expect(loginPath('/')).toBe('/login');
    expect(loginPath('/login?next=/a')).toBe('/login');
  });
});
