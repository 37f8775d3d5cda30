"""The gRPC guard (issue 20, High #1): no key, no handler; bounded calls per tenant and in all; idle
streams cut off; health checks never wait behind work. A real server on 127.0.0.1 with small bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from serving import Server, create_keys
from services.proto.goldenshot.v1 import scorer_pb2 as pb
from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc

BOUNDS = {
    "GOLDENSHOT_SERVER_GRPC_MAX_CALLS": "6",
    "GOLDENSHOT_SERVER_GRPC_CALLS_PER_PEER": "4",
    "GOLDENSHOT_SERVER_GRPC_CALLS_PER_TENANT": "2",
    "GOLDENSHOT_SERVER_GRPC_STREAM_IDLE_S": "2",
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    data = tmp_path_factory.mktemp("guard") / "data"
    keys = create_keys(data, "plant-a", "plant-b", "plant-c")
    srv = Server(data, BOUNDS, args=["--require-api-key"]).start()
    yield srv, keys
    srv.stop()


class IdleStream:
    """An InspectBatch stream that sends nothing until closed (the attack of issue 20)."""

    def __init__(self, stub: pb_grpc.ScorerStub, key: str | None) -> None:
        self.release = threading.Event()
        metadata = [("x-api-key", key)] if key else []
        self.call = stub.InspectBatch(self._nothing(), metadata=metadata, timeout=30)

    def _nothing(self) -> Iterator[pb.InspectRequest]:
        self.release.wait(60)
        return
        yield  # a generator that never yields

    def code(self) -> grpc.StatusCode:
        """How the server ended the stream (it sends no result for no request)."""
        with pytest.raises(grpc.RpcError) as ended:
            next(self.call)
        return ended.value.code()

    def admitted(self) -> bool:
        return ("x-goldenshot-admitted", "1") in tuple(self.call.initial_metadata())


def _health(channel: grpc.Channel) -> None:
    assert health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    assert pb_grpc.ScorerStub(channel).Health(pb.HealthRequest(), timeout=10).status == "SERVING"


def _fingerprint_code(stub: pb_grpc.ScorerStub, key: str) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as failure:
        stub.GetFingerprint(pb.GetFingerprintRequest(product="nothing-here"), metadata=[("x-api-key", key)], timeout=10)
    return failure.value.code(), failure.value.details()


def test_streams_without_a_key_are_refused_before_any_handler_runs(guarded):
    srv, _ = guarded
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = pb_grpc.ScorerStub(channel)
        streams = [IdleStream(stub, None) for _ in range(8)] + [IdleStream(stub, "gs_wrong")]
        try:
            # before: each stream held a worker thread waiting for its first message (DEADLINE_EXCEEDED here)
            assert [s.code() for s in streams] == [grpc.StatusCode.UNAUTHENTICATED] * len(streams)
            _health(channel)
        finally:
            for s in streams:
                s.release.set()


def test_calls_are_bounded_per_tenant_and_per_client_and_idle_streams_are_cut_off(guarded):
    srv, keys = guarded
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = pb_grpc.ScorerStub(channel)
        held = [IdleStream(stub, keys["plant-a"]) for _ in range(2)]
        try:
            assert all(s.admitted() for s in held)
            third = IdleStream(stub, keys["plant-a"])
            third.release.set()
            assert third.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # plant-a holds its 2
            assert _fingerprint_code(stub, keys["plant-b"])[0] == grpc.StatusCode.NOT_FOUND  # plant-b is still served
            held += [IdleStream(stub, keys["plant-b"]) for _ in range(2)]
            assert all(s.admitted() for s in held)
            code, details = _fingerprint_code(stub, keys["plant-c"])
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "peer" in details  # plant-c holds none, this client address its 4
            _health(channel)  # health has threads of its own
            # idle for longer than GRPC_STREAM_IDLE_S: the server cancels each stream (before: held until the client's deadline)
            assert [s.code() for s in held] == [grpc.StatusCode.CANCELLED] * len(held)
        finally:
            for s in held:
                s.release.set()
        for _ in range(40):  # the shares come back as the cancelled handlers finish
            if _fingerprint_code(stub, keys["plant-b"])[0] == grpc.StatusCode.NOT_FOUND:
                break
            time.sleep(0.25)
        assert _fingerprint_code(stub, keys["plant-b"])[0] == grpc.StatusCode.NOT_FOUND
