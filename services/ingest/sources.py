"""Routes: a product's sources (watched folders, camera / video streams), started and stopped over REST,
and its MQTT sink."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from services.core.errors import Unavailable
from services.core.models import MqttSink
from services.core.sources import Sources
from services.ingest.deps import ProductDep
from services.schemas import MqttSinkOut, SourceList, SourceOut

router = APIRouter(prefix="/v1/products/{name}/sources", tags=["sources"])


class SourceIn(BaseModel):
    kind: Literal["folder", "stream"]
    target: str = Field(max_length=2000, description="folder: absolute path below a source root; stream: rtsp://, http(s):// (MJPEG), a video file below a source root, or a device index")
    fps: float = Field(2.0, description="stream: frames inspected per second")
    sort: bool = Field(False, description="folder: move handled files into ok/, anomalous/, failed/")
    triggered: bool = Field(False, description="live stream: inspect the frame after each POST .../trigger instead of sampling at fps")


async def _sources(request: Request) -> Sources:
    sources = getattr(request.app.state.runtime, "sources", None)
    if sources is None:
        raise Unavailable("sources run only where inspections are scored (role all or scorer)")
    return sources


SourcesDep = Annotated[Sources, Depends(_sources)]


@router.post("", status_code=201)
def create_source(body: SourceIn, product: ProductDep, sources: SourcesDep) -> SourceOut:
    return SourceOut.of(sources.create(product, body.kind, body.target, body.fps, body.sort, body.triggered))


@router.get("")
def list_sources(product: ProductDep, sources: SourcesDep) -> SourceList:
    return SourceList(items=[SourceOut.of(view) for view in sources.list(product)])


@router.get("/{source_id}")
def get_source(source_id: str, product: ProductDep, sources: SourcesDep) -> SourceOut:
    return SourceOut.of(sources.get(product, source_id))


@router.post("/{source_id}/start")
def start_source(source_id: str, product: ProductDep, sources: SourcesDep) -> SourceOut:
    return SourceOut.of(sources.set_enabled(product, source_id, True))


@router.post("/{source_id}/stop")
async def stop_source(source_id: str, product: ProductDep, sources: SourcesDep) -> SourceOut:
    """Waits for the source's current inspection to end (off the event loop)."""
    return SourceOut.of(await run_in_threadpool(sources.set_enabled, product, source_id, False))


class TriggerOut(BaseModel):
    pending: int = Field(description="triggers waiting for a frame, this one included")


@router.post("/{source_id}/trigger", status_code=202)
def trigger_source(source_id: str, product: ProductDep, sources: SourcesDep) -> TriggerOut:
    """A part is in place: inspect the camera's next frame (409 when the source is not triggered or not running)."""
    return TriggerOut(pending=sources.trigger(product, source_id))


@router.delete("/{source_id}", status_code=204)
async def delete_source(source_id: str, product: ProductDep, sources: SourcesDep) -> None:
    await run_in_threadpool(sources.delete, product, source_id)


class MqttSinkIn(BaseModel):
    topic: str = Field(max_length=256, description="topic template: {tenant}, {product}, {decision}; no + or #")
    events: Literal["anomalous", "all"] = "anomalous"


mqtt_router = APIRouter(prefix="/v1/products/{name}/mqtt", tags=["sinks"])


def _mqtt_out(request: Request, sink: MqttSink) -> MqttSinkOut:
    runtime = request.app.state.runtime
    publisher = runtime.mqtt
    return MqttSinkOut.of(sink, runtime.mqtt_sinks.pending(sink), publisher is not None and publisher.connected, publisher.last_error if publisher else "no broker configured (GOLDENSHOT_SERVER_MQTT_HOST)")


@mqtt_router.put("")
def set_mqtt(body: MqttSinkIn, request: Request, product: ProductDep) -> MqttSinkOut:
    return _mqtt_out(request, request.app.state.runtime.mqtt_sinks.set(product, body.topic, body.events))


@mqtt_router.get("")
def get_mqtt(request: Request, product: ProductDep) -> MqttSinkOut:
    return _mqtt_out(request, request.app.state.runtime.mqtt_sinks.get(product))


@mqtt_router.delete("", status_code=204)
def delete_mqtt(request: Request, product: ProductDep) -> None:
    request.app.state.runtime.mqtt_sinks.delete(product)
