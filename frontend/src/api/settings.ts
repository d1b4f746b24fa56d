// SPDX-License-Identifier: ISC
// Server settings an operator hands to clients (the certificate fingerprint).
import type { Settings } from '../types/api';
import { get } from './http';

/** GET /api/settings. */
export function getSettings(signal?: AbortSignal): Promise<Settings> {
  return get<Settings>('/api/settings', undefined, { signal });
}
