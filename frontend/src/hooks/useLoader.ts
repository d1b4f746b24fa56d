// SPDX-License-Identifier: ISC
// Loads data with loading/error state; reload(true) refreshes without a spinner.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loader<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Time of the last successful load (ms). */
  loadedAt: number;
  reload: (quiet?: boolean) => void;
  setData: (fn: (prev: T | undefined) => T | undefined) => void;
}

/** Runs fetcher now and whenever deps change; aborts the previous run. */
export function useLoader<T>(fetcher: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loader<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [loadedAt, setLoadedAt] = useState(0);
  const ctrl = useRef<AbortController | null>(null);
  const fetchRef = useRef(fetcher);
  useEffect(() => {
    fetchRef.current = fetcher;
  });

  const run = useCallback((quiet: boolean) => {
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    if (!quiet) setLoading(true);
    fetchRef
      .current(c.signal)
      .then((d) => {
        if (c.signal.aborted) return;
        setDataState(d);
        setError(undefined);
        setLoadedAt(Date.now());
      })
      .catch((e: unknown) => {
        if (c.signal.aborted) return;
        setError(e instanceof Error ? e : new Error(String(e)));
      })
      .finally(() => {
        if (!c.signal.aborted) setLoading(false);
      });
  }, []);

  // Fetching is the external system here: the spinner has to show at once.
  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect
    run(false);
    return () => ctrl.current?.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const reload = useCallback((quiet = false) => run(quiet), [run]);
  const setData = useCallback((fn: (prev: T | undefined) => T | undefined) => setDataState(fn), []);
  return { data, error, loading, loadedAt, reload, setData };
}
