import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach, vi } from 'vitest';

// jsdom has no object URLs; AuthImage makes them when an API key is set.
if (!URL.createObjectURL) {
  Object.assign(URL, { createObjectURL: () => 'blob:test', revokeObjectURL: () => {} });
}

// undici's Request never finishes reading a jsdom File, so the API client's requests are built from
// this stand-in in tests: fakeApi sees the body as sent (JSON text or the FormData itself).
class SentRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: unknown;
  readonly signal: AbortSignal | null;
  constructor(url: string, init: RequestInit = {}) {
    this.url = url;
    this.method = (init.method ?? 'GET').toUpperCase();
    this.headers = new Headers(init.headers);
    this.body = init.body ?? null;
    this.signal = init.signal ?? null;
  }
}
globalThis.Request = SentRequest as unknown as typeof Request;

vi.mock('uplot', async () => ({ default: (await import('./fakeUPlot')).FakePlot }));
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
