import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach, vi } from 'vitest';

// jsdom has no object URLs; AuthImage makes them when an API key is set.
if (!URL.createObjectURL) {
  Object.assign(URL, { createObjectURL: () => 'blob:test', revokeObjectURL: () => {} });
}

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
