// SPDX-License-Identifier: ISC
// Audit log: logins, logouts, disconnects, user changes.
import type { AuditItem, Page } from '../types/api';
import { get } from './http';

/** One page of the audit log, newest first. */
export function listAudit(page: number, perPage: number, signal?: AbortSignal): Promise<Page<AuditItem>> {
  return get<Page<AuditItem>>('/api/audit', { page, per_page: perPage }, { signal });
}
