// SPDX-License-Identifier: ISC
// Whether the master is in cluster mode (asked once per mount).
import { useEffect, useState } from 'react';
import { isClusterMode } from '../api/nodes';

/** False until /api/nodes is known to exist. */
export function useClusterMode(): boolean {
  const [cluster, setCluster] = useState(false);
  useEffect(() => {
    const c = new AbortController();
    void isClusterMode(c.signal).then((on) => {
      if (!c.signal.aborted) setCluster(on);
    });
    return () => c.abort();
  }, []);
  return cluster;
}
