"""The REST contract without a server: every answer described in OpenAPI.

The console's client types are generated from this OpenAPI; `make console-types-check` keeps them current."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from goldenshot.settings import Settings
from services.common.settings import ServiceSettings
from services.ingest.app import create_app
from services.runtime import Runtime

BINARY = {"type": "string", "format": "binary"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    runtime = Runtime(ServiceSettings(data_dir=tmp_path_factory.mktemp("contract")), Settings())
    yield create_app(runtime)
    runtime.close()


@pytest.fixture(scope="module")
def spec(app) -> dict:
    return app.openapi()


def test_every_success_answer_has_a_schema(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("2") and status != "204":
                    content = response.get("content") or {}
                    assert content and all(media.get("schema") for media in content.values()), (method, path, status)


def test_no_route_answers_a_bare_dict(app):
    """A JSON answer is a pydantic model; the others are bytes with their media types declared."""
    for route in app.routes:
        if isinstance(route, APIRoute) and route.status_code != 204:
            model = route.response_model
            assert (isinstance(model, type) and issubclass(model, BaseModel)) or route.responses.get(200, {}).get("content"), route.path


@pytest.mark.parametrize(
    ("path", "media_types"),
    [
        ("/v1/products/{name}/golden/{sample_id}/image", {"image/png", "image/jpeg"}),
        ("/v1/products/{name}/inspections/{inspection_id}/image", {"image/png", "image/jpeg"}),
        ("/v1/products/{name}/inspections/{inspection_id}/{kind}.png", {"image/png"}),
        ("/v1/products/{name}/fingerprints/{version}/file", {"application/octet-stream"}),
    ],
)
def test_binary_routes_declare_their_media_type(spec, path, media_types):
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]
    assert media_types <= set(content) and "application/json" not in content
    assert all(content[m]["schema"] == BINARY for m in media_types)


def test_errors_are_described(spec):
    responses = spec["paths"]["/v1/products/{name}/inspect"]["post"]["responses"]
    assert responses["4XX"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
