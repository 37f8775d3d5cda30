"""The scorer's gRPC server as Kubernetes and grpcurl see it: standard health, reflection, one owner per port."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from serving import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("grpc") / "data").start()
    yield srv
    srv.stop()


def test_standard_health_check_answers_serving(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "goldenshot.v1.Scorer"):  # "" is what Kubernetes' gRPC probe asks by default
            assert stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_scorer(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert {"goldenshot.v1.Scorer", "grpc.health.v1.Health"} <= set(services)


def test_a_second_server_on_the_same_grpc_port_fails_at_start(server, tmp_path):
    second = Server(tmp_path / "data", args=["--grpc-port", str(server.grpc_port)])
    with pytest.raises(RuntimeError, match="port is in use"):
        second.start(timeout=60)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:  # the first keeps serving
        stub = health_pb2_grpc.HealthStub(channel)
        assert stub.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
