// SPDX-License-Identifier: ISC
// The master's settings the console shows: the certificate fingerprint an
// operator hands to clients, and how long history is kept.
import type { Settings } from '../types/api';
import { get } from './http';

/** GET /api/settings. */
export function getSettings(signal?: AbortSignal): Promise<Settings> {
  return get<Settings>('/api/settings', undefined, { signal });
}
