// One open server for the engineer's flow, started before the workers and stopped (by PID) after them.
// Its folder sources may lie below E2E_SOURCE_ROOT only (a temp dir, removed after it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { out, startServer, stopServer } from './servers';

export default async function globalSetup() {
  fs.rmSync(out, { recursive: true, force: true });
  // resolved: the server compares resolved paths, and the spec builds its folder from this one
  const sourceRoot = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'goldenshot-e2e-sources-')));
  const server = await startServer('open', [], undefined, { GOLDENSHOT_SERVER_SOURCE_ROOTS: JSON.stringify([sourceRoot]) });
  process.env.E2E_BASE = server.base;
  process.env.E2E_SOURCE_ROOT = sourceRoot;
  return async () => {
    await stopServer(server);
    fs.rmSync(sourceRoot, { recursive: true, force: true });
  };
}
