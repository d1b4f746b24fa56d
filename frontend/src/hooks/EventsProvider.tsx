// SPDX-License-Identifier: ISC
// Opens one event stream for the logged-in console and fans events out.
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { me } from '../api/auth';
import { ApiError } from '../api/http';
import { openEventStream, type StreamState } from '../api/events';
import { EventsContext, type Listener } from './events';

/** Provides the live stream to the pages under it. */
export function EventsProvider({ children, onSessionGone }: { children: ReactNode; onSessionGone: () => void }) {
  const [state, setState] = useState<StreamState>('connecting');
  const [generation, setGeneration] = useState(0);
  const listeners = useRef(new Set<Listener>());
  const gone = useRef(onSessionGone);
  useEffect(() => {
    gone.current = onSessionGone;
  });

  useEffect(() => {
    const close = openEventStream({
      onState: setState,
      onEvent: (name, data) => {
        for (const fn of listeners.current) {
          try {
            fn(name, data);
          } catch (e) {
            console.error('event handler failed', e);
          }
        }
      },
      checkSession: async () => {
        try {
          await me();
          return true;
        } catch (e) {
          if (e instanceof ApiError && e.status === 401) {
            gone.current();
            return false;
          }
          return true;
        }
      },
    });
    return close;
  }, [generation]);

  const subscribe = useCallback((fn: Listener) => {
    listeners.current.add(fn);
    return () => {
      listeners.current.delete(fn);
    };
  }, []);
  const restart = useCallback(() => setGeneration((g) => g + 1), []);

  const value = useMemo(() => ({ state, subscribe, restart }), [state, subscribe, restart]);
  return <EventsContext.Provider value={value}>{children}</EventsContext.Provider>;
}
