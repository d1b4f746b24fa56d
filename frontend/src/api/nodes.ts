// SPDX-License-Identifier: ISC
// The masters of a cluster (GET /api/nodes: 404 without [cluster], 503
// while the master cannot reach the cluster store).
import type { ClusterNode } from '../types/api';
import { ApiError, get } from './http';

/** Lists the cluster's nodes. */
export async function listNodes(signal?: AbortSignal): Promise<ClusterNode[]> {
  const r = await get<{ items: ClusterNode[] | null }>('/api/nodes', undefined, { signal });
  return r.items ?? [];
}

/** True when the master runs in cluster mode: /api/nodes is there (even
 * when it answers 503 because the store is down). */
export async function isClusterMode(signal?: AbortSignal): Promise<boolean> {
  try {
    await listNodes(signal);
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 503) return true;
    return false;
  }
}

/** True when an error of listNodes() means "cluster store unavailable". */
export function isStoreUnavailable(e: unknown): boolean {
  return e instanceof ApiError && e.status === 503;
}
