"""Run the bare tritonserver shipped in PyPI `nvidia-pytriton` on a model repository, on 127.0.0.1 only.

pytriton's own `Triton` class serves Python callables from a workspace it builds; we serve the model
repository `goldenshot export --triton DIR --device cpu` writes, so we start its binary directly, the
way pytriton does underneath: a backend folder holding the Python backend plus the stub built for the
running Python, LD_LIBRARY_PATH with the wheel's bundled libraries and this Python's libpython, and
this environment's bin first on PATH (the stub embeds an interpreter that finds its environment, and so
numpy and onnxruntime, through the `python3` it sees there). The wheel's server has only the Python
backend and no GPU support: it serves tests and CPU-only deployments.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


class TritonServerError(RuntimeError):
    """tritonserver is not installed, did not start, or did not become ready in time; names the cause."""


def _pytriton_dir() -> Path:
    """The installed `pytriton` package folder, found without importing it (its imports need numpy<2)."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonServerError("tritonserver not found: pip install --no-deps nvidia-pytriton==0.7.0")
    return Path(next(iter(spec.submodule_search_locations)))


def backend_directory(workdir: Path) -> Path:
    """`workdir/backends`: the wheel's Python backend, with the stub for this Python linked in as Triton expects."""
    dist = _pytriton_dir() / "tritonserver"
    stub = dist / "python_backend_stubs" / f"{sys.version_info[0]}.{sys.version_info[1]}" / "triton_python_backend_stub"
    if not stub.is_file():
        raise TritonServerError(f"nvidia-pytriton ships no Python backend stub for Python {sys.version_info[0]}.{sys.version_info[1]}")
    python = workdir / "backends" / "python"
    python.mkdir(parents=True, exist_ok=True)
    for src in [*(dist / "backends" / "python").glob("*.*"), stub]:
        link = python / src.name
        if not link.exists():
            link.symlink_to(src)
    return python.parent


def server_environment() -> dict[str, str]:
    """This process's environment plus what the binary and the Python backend stub need to load."""
    env = dict(os.environ)
    libs = [str(_pytriton_dir().parent / "nvidia_pytriton.libs"), sysconfig.get_config_var("LIBDIR")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, *filter(None, [env.get("LD_LIBRARY_PATH")])])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(repository: Path, workdir: Path, http_port: int, grpc_port: int) -> list[str]:
    """tritonserver's argv: HTTP and gRPC on 127.0.0.1, metrics off, fail fast on a model that does not load."""
    return [
        str(_pytriton_dir() / "tritonserver" / "bin" / "tritonserver"),
        f"--model-repository={repository}",
        f"--backend-directory={backend_directory(workdir)}",
        "--http-address=127.0.0.1",
        f"--http-port={http_port}",
        "--grpc-address=127.0.0.1",
        f"--grpc-port={grpc_port}",
        "--allow-metrics=false",  # metrics would listen on every interface; the services export their own
        "--model-control-mode=none",
        "--strict-readiness=true",
        "--exit-on-error=true",
        "--exit-timeout-secs=5",
        "--log-verbose=0",
    ]


@dataclass
class TritonServer:
    """A running tritonserver child process; stop() ends it by its PID."""

    process: subprocess.Popen
    http_port: int
    grpc_port: int
    log: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def ready(self) -> bool:
        """Server and every model loaded (Triton's readiness endpoint answers 200)."""
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (Triton unloads models, then exits), SIGKILL if it does not within timeout_s."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _errors(log: Path) -> list[str]:
    """The log's last error lines (Triton prefixes them with E), else its last lines: what to quote on failure."""
    lines = log.read_text(errors="replace").strip().splitlines()
    errors = [line for line in lines if line.startswith("E") or line.startswith("error:")]
    return [" ".join(line.split())[:300] for line in (errors or lines)[-3:]]


def start_tritonserver(repository: Path, workdir: Path, timeout_s: float = 60.0) -> TritonServer:
    """Start tritonserver on free 127.0.0.1 ports and wait until it is ready; on any failure it is stopped.

    The server's output goes to `workdir/tritonserver.log`; a failed start quotes its tail.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, grpc_port = free_port(), free_port()
    log = workdir / "tritonserver.log"
    command = server_command(repository, workdir, http_port, grpc_port)
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=server_environment(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = TritonServer(process, http_port, grpc_port, log)
    deadline = time.monotonic() + timeout_s
    while not server.ready():
        if process.poll() is not None or time.monotonic() > deadline:
            why = f"exited with code {process.returncode}" if process.poll() is not None else f"not ready after {timeout_s:.0f} s"
            server.stop()
            raise TritonServerError(f"tritonserver {why} (log {log}): " + " | ".join(_errors(log)))
        time.sleep(0.2)
    return server
