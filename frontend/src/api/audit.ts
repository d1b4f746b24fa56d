// SPDX-License-Identifier: ISC
// Audit log: logins, logouts, disconnects, user changes.
import type { AuditItem, Page } from '../types/api';
import { get } from './http';

/** One page of the audit log, newest first; action filters on the server. */
export function listAudit(
  page: number,
  perPage: number,
  action?: string,
  signal?: AbortSignal,
): Promise<Page<AuditItem>> {
  return get<Page<AuditItem>>('/api/audit', { page, per_page: perPage, action }, { signal });
}
