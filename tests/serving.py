"""A real `goldenshot serve` process on 127.0.0.1 for the server tests: start, wait ready, kill -9, stop by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server process over a data dir; the same dir can be served again after a stop or a kill."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None, role: str | None = None) -> None:
        """role: None runs the embedded `goldenshot serve`; "ingest", "builder" or "scorer" one service."""
        self.role = role
        self.data_dir = data_dir
        self.env = {**os.environ, "GOLDENSHOT_LOG_LEVEL": "INFO", **(env or {})}
        self.args = args or []
        self.proc: subprocess.Popen | None = None
        self.port = self.grpc_port = 0
        self.log = data_dir.parent / f"{data_dir.name}-{role or 'server'}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        self.port, self.grpc_port = free_port(), free_port()
        command = ["service", self.role] if self.role else ["serve"]
        cmd = [sys.executable, "-m", "goldenshot", *command, "--host", "127.0.0.1", "--port", str(self.port), "--grpc-port", str(self.grpc_port)]
        cmd += ["--data-dir", str(self.data_dir), *self.args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"server not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60.0, **kwargs)

    def kill(self) -> None:
        """kill -9: no shutdown code runs, as in a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


def wait_job(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict:
    """Poll a job until it is finished; returns the last Job object."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} still {job['state']} after {timeout} s: {job}")


def files(paths: list[Path], field: str = "files") -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart parts for httpx."""
    return [(field, (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]


def create_keys(data_dir: Path, *tenants: str) -> dict[str, str]:
    """`goldenshot keys create` for each tenant: tenant -> its key (shown once)."""
    keys = {}
    for tenant in tenants:
        out = subprocess.run([sys.executable, "-m", "goldenshot", "keys", "create", tenant, "--data-dir", str(data_dir)], cwd=ROOT, capture_output=True, text=True, check=True)
        keys[tenant] = out.stdout.strip()
    return keys
