// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import Fingerprint from './Fingerprint';
import { mockFetch, renderPage } from '../../test/fakes';

const FP = 'sha256:' + 'ab12'.repeat(16);

describe('Fingerprint on the overview', () => {
  it('shows the fingerprint with a copy button', async () => {
    mockFetch({ 'GET /api/settings': () => ({ body: { tls_fingerprint: FP, tls: true } }) });
    renderPage(<Fingerprint />);
    expect(await screen.findByTestId('tls-fingerprint-value')).toHaveTextContent(FP);
    expect(screen.getByTestId('tls-fingerprint').querySelector('.ant-typography-copy')).not.toBeNull();
  });

  it('shows nothing without tls_cert_file, and the error when it cannot be read', async () => {
    const calls = mockFetch({ 'GET /api/settings': () => ({ body: { tls_fingerprint: null, tls: false } }) });
    const { unmount } = renderPage(<Fingerprint />);
    await waitFor(() => expect(calls.length).toBe(1));
    expect(screen.queryByTestId('tls-fingerprint')).toBeNull();
    unmount();
    mockFetch({ 'GET /api/settings': () => ({ body: { tls_fingerprint: null, tls: true, tls_error: '/etc/x.crt: no PEM certificate' } }) });
    renderPage(<Fingerprint />);
    expect(await screen.findByText(/no PEM certificate/)).toBeInTheDocument();
  });
});
