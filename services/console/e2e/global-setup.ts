// One open server for the engineer's flow, started before the workers and stopped (by PID) after them.
import fs from 'node:fs';
import { out, startServer, stopServer } from './servers';

export default async function globalSetup() {
  fs.rmSync(out, { recursive: true, force: true });
  const server = await startServer('open');
  process.env.E2E_BASE = server.base;
  return () => stopServer(server);
}
