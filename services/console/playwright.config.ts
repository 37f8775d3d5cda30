import { defineConfig } from '@playwright/test';

// The built console in Debian's headless Chromium (no browser download) against real servers on
// 127.0.0.1 (e2e/servers.ts). Screenshots, traces and the report go to test-output/console/.
const out = '../../test-output/console';

export default defineConfig({
  testDir: 'e2e',
  outputDir: `${out}/results`,
  globalSetup: './e2e/global-setup.ts',
  timeout: 240_000,
  expect: { timeout: 30_000 },
  // the engineer's flow runs in order on one server; the API-key flow has its own server beside it
  workers: 2,
  forbidOnly: true,
  reporter: [['list'], ['html', { outputFolder: `${out}/report`, open: 'never' }]],
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
    viewport: { width: 1280, height: 900 },
    actionTimeout: 30_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
