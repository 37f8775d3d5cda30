/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// JSX through Vite's own esbuild (no React plugin). The built app is served by the goldenshot
// server at "/" on the same origin as the API, so every API call is a relative "/v1/..." URL.
// `npm run dev` proxies the API to a server on 127.0.0.1:8080 (GOLDENSHOT_API to change).
const api = process.env.GOLDENSHOT_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      // TanStack Query and React Router mark modules "use client" for server components; meaningless here
      onwarn: (w, warn) => (w.code === 'MODULE_LEVEL_DIRECTIVE' ? undefined : warn(w)),
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/v1': api, '/healthz': api, '/readyz': api },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
