// SPDX-License-Identifier: ISC
// The live event stream (/api/events, Server-Sent Events).
import type { Client, ClientOffline, ConnEvent, StatsTick } from '../types/api';

export interface EventMap {
  client_online: Client;
  client_offline: ClientOffline;
  conn_open: ConnEvent;
  conn_close: ConnEvent;
  stats: StatsTick;
}

export type EventName = keyof EventMap;
export const EVENT_NAMES: EventName[] = ['client_online', 'client_offline', 'conn_open', 'conn_close', 'stats'];

export type StreamState = 'connecting' | 'live' | 'retrying' | 'stopped';

export interface StreamOptions {
  /** Called with every parsed event. */
  onEvent: <K extends EventName>(name: K, data: EventMap[K]) => void;
  onState: (s: StreamState) => void;
  /** Called when the stream was refused; resolves false when the session is gone. */
  checkSession: () => Promise<boolean>;
  /** Retries before giving up (the user can restart it). */
  maxRetries?: number;
  /** Factory, replaced in tests. */
  create?: (url: string) => EventSource;
}

/** Opens the event stream and keeps it open; returns a function that closes it. */
export function openEventStream(opts: StreamOptions): () => void {
  const maxRetries = opts.maxRetries ?? 60;
  const create = opts.create ?? ((url: string) => new EventSource(url, { withCredentials: true }));
  let es: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let retries = 0;
  let closed = false;

  const connect = () => {
    if (closed) return;
    opts.onState(retries === 0 ? 'connecting' : 'retrying');
    const src = create('/api/events');
    es = src;
    src.onopen = () => {
      retries = 0;
      opts.onState('live');
    };
    for (const name of EVENT_NAMES) {
      src.addEventListener(name, (ev: Event) => {
        const raw = (ev as MessageEvent<string>).data;
        let data: unknown;
        try {
          data = JSON.parse(raw);
        } catch {
          return; // a malformed event is dropped, the stream goes on
        }
        if (data && typeof data === 'object') opts.onEvent(name, data as EventMap[typeof name]);
      });
    }
    src.onerror = () => {
      if (closed) return;
      // The browser retries by itself while CONNECTING; a refused stream
      // (401, 5xx) ends CLOSED and is ours to restart, after a back-off.
      if (src.readyState === 2) {
        src.close();
        es = null;
        void restart();
      } else {
        opts.onState('retrying');
      }
    };
  };

  const restart = async () => {
    retries++;
    if (retries > maxRetries) {
      opts.onState('stopped');
      return;
    }
    opts.onState('retrying');
    let ok = true;
    try {
      ok = await opts.checkSession();
    } catch {
      ok = true; // network trouble: keep trying
    }
    if (!ok || closed) {
      opts.onState('stopped');
      return;
    }
    const delay = Math.min(30000, 1000 * 2 ** Math.min(retries - 1, 5));
    timer = setTimeout(connect, delay);
  };

  connect();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    es?.close();
    es = null;
  };
}
