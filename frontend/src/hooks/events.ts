// SPDX-License-Identifier: ISC
// Subscriptions to the shared live event stream.
import { createContext, useContext, useEffect, useRef } from 'react';
import type { EventMap, EventName, StreamState } from '../api/events';

export type Listener = <K extends EventName>(name: K, data: EventMap[K]) => void;

export interface EventsHub {
  state: StreamState;
  subscribe: (fn: Listener) => () => void;
  restart: () => void;
}

export const EventsContext = createContext<EventsHub>({
  state: 'stopped',
  subscribe: () => () => undefined,
  restart: () => undefined,
});

/** The state of the live stream (for the header badge). */
export function useStreamState(): StreamState {
  return useContext(EventsContext).state;
}

/** The hub itself (subscribe, restart). */
export function useEventsHub(): EventsHub {
  return useContext(EventsContext);
}

/** Calls handler for every event of the stream; the latest handler is always used. */
export function useEvents(handler: Listener): void {
  const { subscribe } = useContext(EventsContext);
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => subscribe((name, data) => ref.current(name, data)), [subscribe]);
}
