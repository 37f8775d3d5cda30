// Real `goldenshot serve` processes for the browser tests: 127.0.0.1, free REST and gRPC ports (a gRPC
// port is never shared), a data dir of their own, a log in test-output/console/, stopped by PID.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..', '..');
export const out = path.resolve(repo, process.env.E2E_OUT || 'test-output/console');
const data = path.resolve(repo, process.env.GOLDENSHOT_DATASETS || '../shared/datasets');
const python = path.resolve(repo, process.env.GOLDENSHOT_PYTHON || '.venv/bin/python');

/** The magnetic tiles the flows use. */
export const tile = path.join(data, 'mtd', 'magnetic_tile');

export interface Server {
  pid: number;
  base: string;
  dataDir: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Start a server (after `before` has prepared its data dir; `env` beside the inherited one) and wait until it is ready. */
export async function startServer(
  name: string,
  extraArgs: string[] = [],
  before?: (dataDir: string) => Promise<void>,
  env: Record<string, string> = {},
): Promise<Server> {
  for (const f of [python, tile]) if (!fs.existsSync(f)) throw new Error(`missing ${f}`);
  if (!fs.existsSync(path.join(repo, 'services', 'console', 'dist', 'index.html'))) {
    throw new Error('services/console/dist is missing: build the console first (make console)');
  }
  const [port, grpcPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `goldenshot-e2e-${name}-`));
  if (before) await before(dataDir);
  fs.mkdirSync(out, { recursive: true });
  const logFile = path.join(out, `server-${name}.log`);
  const fd = fs.openSync(logFile, 'w');
  const args = ['-m', 'goldenshot', 'serve', '--host', '127.0.0.1', '--port', String(port), '--grpc-port', String(grpcPort), '--data-dir', dataDir];
  const child = spawn(python, [...args, ...extraArgs], { cwd: repo, stdio: ['ignore', fd, fd], env: { ...process.env, GOLDENSHOT_DATASETS: data, ...env } });
  fs.closeSync(fd);
  const server = { pid: child.pid!, base, dataDir };
  const end = Date.now() + 180_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server ${name} exited early (code ${child.exitCode}); see ${logFile}`);
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) return server;
    await new Promise((r) => setTimeout(r, 300));
  }
  await stopServer(server);
  throw new Error(`server ${name} was not ready within 180 s; see ${logFile}`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM, SIGKILL after 15 s; then its data dir goes. */
export async function stopServer(server: Server): Promise<void> {
  if (alive(server.pid)) {
    process.kill(server.pid, 'SIGTERM');
    const end = Date.now() + 15_000;
    while (alive(server.pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    if (alive(server.pid)) process.kill(server.pid, 'SIGKILL');
  }
  fs.rmSync(server.dataDir, { recursive: true, force: true });
}

/** A goldenshot CLI command run to completion; its stdout. */
export function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(python, ['-m', 'goldenshot', ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`goldenshot ${args.join(' ')}: ${stderr}`))));
  });
}
