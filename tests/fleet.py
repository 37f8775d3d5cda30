"""The distributed deployment on 127.0.0.1 for tests and benchmarks: nats-server (JetStream),
SeaweedFS (S3), the CPU tritonserver, one shared SQLite catalog, then scorer(s), builder and ingest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from backends import NatsServer, SeaweedS3, service_env
from goldenshot.cli import app
from serving import Server
from services.common.tritonserver import start_tritonserver

MODEL = "backbone"


@dataclass
class Fleet:
    scorers: list[Server]
    builder: Server
    ingest: Server
    s3: SeaweedS3
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def fleet(root: Path, scorers: int = 1, ack_wait_s: float = 6.0) -> Iterator[Fleet]:
    """Everything started, stopped by PID on exit whatever happens. With several scorers the ingest
    talks to the first; gRPC clients can spread over all of them."""
    repository = root / "model_repository"
    result = CliRunner().invoke(app, ["export", "--triton", str(repository), "--device", "cpu", "--model-name", MODEL, "--cpu-threads", "1"])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    nats, s3 = NatsServer(root / "jetstream"), SeaweedS3(root / "s3")
    triton = None
    started: list[Server] = []
    try:
        nats.start()
        s3.start()
        triton = start_tritonserver(repository, root / "tritonserver", timeout_s=90)
        env = {
            **service_env(nats, s3),
            "GOLDENSHOT_SERVER_CATALOG_URL": f"sqlite:///{root / 'catalog.db'}",
            "GOLDENSHOT_SERVER_JOB_ACK_WAIT_S": str(ack_wait_s),
            "GOLDENSHOT_SERVER_FEATURES": "triton",
            "GOLDENSHOT_SERVER_TRITON_URL": triton.grpc_url,
            "GOLDENSHOT_SERVER_TRITON_MODEL": MODEL,
        }

        def start(name: str, role: str, extra: dict[str, str] | None = None) -> Server:
            server = Server(root / name, {**env, **(extra or {})}, role=role)
            started.append(server)
            return server.start()

        scorer_list = [start(f"scorer{i}", "scorer") for i in range(scorers)]
        builder = start("builder", "builder")
        ingest = start("ingest", "ingest", {"GOLDENSHOT_SERVER_SCORER_URL": f"127.0.0.1:{scorer_list[0].grpc_port}"})
        yield Fleet(scorer_list, builder, ingest, s3, env)
    finally:
        for server in started:
            server.stop()
        if triton is not None:
            triton.stop()
        nats.kill()
        s3.kill()
