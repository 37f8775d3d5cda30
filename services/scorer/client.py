"""The Scorer interface over gRPC: what the ingest API uses when scoring runs in the scorer service.

The scorer service stores each result in the shared catalog and object store, so the client only
forwards the image and the caller's API key and then reads the stored row back.
"""

from __future__ import annotations

import grpc

from services.common.catalog import Catalog
from services.common.logs import REQUEST_ID
from services.core.errors import ERRORS, Unavailable
from services.core.models import Inspection, Product
from services.proto.goldenshot.v1 import scorer_pb2 as pb
from services.proto.goldenshot.v1 import scorer_pb2_grpc as pb_grpc
from services.scorer.grpc_server import API_KEY_METADATA, ERROR_CODE, ERROR_KIND, REQUEST_ID_METADATA
from services.scorer.scorer import active_version


class RemoteScorer:
    """Same calls as services.scorer.scorer.Scorer (inspector, inspect, forget), answered by a scorer service."""

    def __init__(self, catalog: Catalog, target: str, timeout: float, max_message_bytes: int) -> None:
        self.catalog = catalog
        self.timeout = timeout
        options = [("grpc.max_send_message_length", max_message_bytes), ("grpc.max_receive_message_length", max_message_bytes)]
        self.channel = grpc.insecure_channel(target, options=options)
        self.stub = pb_grpc.ScorerStub(self.channel)

    def ready(self, product: Product) -> int:
        """Only checks that the product can be inspected; the bank is hot in the scorer service."""
        return active_version(product)

    def inspect(self, product: Product, data: bytes, filename: str, *, credentials: str | None = None) -> Inspection:
        metadata = [(API_KEY_METADATA, credentials)] if credentials else []
        if (request_id := REQUEST_ID.get()) is not None:
            metadata.append((REQUEST_ID_METADATA, request_id))
        try:
            reply = self.stub.Inspect(pb.InspectRequest(product=product.name, image=data, filename=filename), metadata=metadata, timeout=self.timeout)
        except grpc.RpcError as exc:
            trailers = dict(exc.trailing_metadata() or ())
            if trailers.get(ERROR_KIND) in ERRORS:
                raise ERRORS[trailers[ERROR_KIND]](exc.details(), trailers.get(ERROR_CODE)) from None
            raise Unavailable(f"scorer service: {exc.code().name}: {exc.details()}") from None
        return self.catalog.inspections.get(product.id, reply.id)

    def forget(self, product_id: str) -> None:
        """Nothing is cached here; the scorer service notices new versions itself."""

    def close(self) -> None:
        self.channel.close()
