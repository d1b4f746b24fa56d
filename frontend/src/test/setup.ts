// SPDX-License-Identifier: ISC
// jsdom set-up for Ant Design and recharts: matchMedia, ResizeObserver, getComputedStyle.
import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach, vi } from 'vitest';

// CI machines run other suites at the same time (a load of 8 on 2 cores was
// seen to take a lazy page over 5 s to render): give findBy/waitFor room.
configure({ asyncUtilTimeout: 15000 });

Object.defineProperty(window, 'matchMedia', {
  writable: true,
  value: (query: string) => ({
    // A wide screen: min-width breakpoints match, max-width ones do not.
    matches: /min-width/.test(query) && !/max-width/.test(query),
    media: query,
    onchange: null,
    addListener: vi.fn(),
    removeListener: vi.fn(),
    addEventListener: vi.fn(),
    removeEventListener: vi.fn(),
    dispatchEvent: vi.fn(),
  }),
});

class RO {
  observe() {}
  unobserve() {}
  disconnect() {}
}
(globalThis as unknown as { ResizeObserver: typeof RO }).ResizeObserver = RO;

// jsdom does not implement pseudo-element styles; antd asks for them.
const gcs = window.getComputedStyle.bind(window);
window.getComputedStyle = (elt: Element) => gcs(elt);

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  window.localStorage.clear();
});
