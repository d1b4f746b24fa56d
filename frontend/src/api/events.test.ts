// SPDX-License-Identifier: ISC
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openEventStream, type StreamState } from './events';

class FakeES {
  static last: FakeES | null = null;
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, (e: Event) => void>();
  closed = false;
  constructor(public url: string) {
    FakeES.last = this;
  }
  addEventListener(name: string, fn: (e: Event) => void) {
    this.listeners.set(name, fn);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  emit(name: string, data: string) {
    this.listeners.get(name)?.(new MessageEvent(name, { data }));
  }
}

describe('event stream', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('parses named events and reports live', () => {
    const states: StreamState[] = [];
    const got: [string, unknown][] = [];
    const close = openEventStream({
      onEvent: (n, d) => got.push([n, d]),
      onState: (s) => states.push(s),
      checkSession: async () => true,
      create: (u) => new FakeES(u) as unknown as EventSource,
    });
    const es = FakeES.last!;
    expect(es.url).toBe('/api/events');
    es.onopen?.();
    es.emit('client_online', '{"id":"a","name":"n"}');
    es.emit('stats', 'not json');
    es.emit('client_offline', '{"id":"a","name":"n"}');
    expect(got).toEqual([
      ['client_online', { id: 'a', name: 'n' }],
      ['client_offline', { id: 'a', name: 'n' }],
    ]);
    expect(states).toEqual(['connecting', 'live']);
    close();
    expect(es.closed).toBe(true);
  });

  it('restarts a refused stream after a back-off while the session lives', async () => {
    const check = vi.fn(async () => true);
    const close = openEventStream({
      onEvent: () => undefined,
      onState: () => undefined,
      checkSession: check,
      create: (u) => new FakeES(u) as unknown as EventSource,
    });
    const first = FakeES.last!;
    first.readyState = 2;
    first.onerror?.();
    await vi.advanceTimersByTimeAsync(1100);
    expect(check).toHaveBeenCalledTimes(1);
    expect(FakeES.last).not.toBe(first);
    close();
  });

  it('stops when the session is gone', async () => {
    const states: StreamState[] = [];
    openEventStream({
      onEvent: () => undefined,
      onState: (s) => states.push(s),
      checkSession: async () => false,
      create: (u) => new FakeES(u) as unknown as EventSource,
    });
    const first = FakeES.last!;
    first.readyState = 2;
    first.onerror?.();
    await vi.advanceTimersByTimeAsync(5000);
    expect(FakeES.last).toBe(first);
    expect(states.at(-1)).toBe('stopped');
  });

  it('gives up after maxRetries', async () => {
    const states: StreamState[] = [];
    openEventStream({
      onEvent: () => undefined,
      onState: (s) => states.push(s),
      checkSession: async () => true,
      maxRetries: 2,
      create: (u) => {
        const es = new FakeES(u);
        queueMicrotask(() => {
          es.readyState = 2;
          es.onerror?.();
        });
        return es as unknown as EventSource;
      },
    });
    await vi.advanceTimersByTimeAsync(60000);
    expect(states.at(-1)).toBe('stopped');
  });
});
