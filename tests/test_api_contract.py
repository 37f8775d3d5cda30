"""The REST contract without a server: every answer described in OpenAPI, and the console's types agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from goldenshot.settings import Settings
from services.common.settings import ServiceSettings
from services.ingest.app import create_app
from services.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
BINARY = {"type": "string", "format": "binary"}
# the console's interface -> the API's schema of the same object
CONSOLE_TYPES = {
    "ApiErrorBody": "ErrorBody",
    "Version": "VersionOut",
    "JobProgress": "JobProgress",
    "Job": "JobOut",
    "Product": "ProductOut",
    "Golden": "GoldenOut",
    "Region": "Region",
    "NearestGolden": "NearestGolden",
    "Inspection": "InspectionOut",
    "Stats": "StatsOut",
    "GoldenUpload": "GoldenUploadOut",
}


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


def _console_interfaces() -> dict[str, dict[str, bool]]:
    """interface name -> {field: optional} from the console's hand-written types."""
    text = (ROOT / "services/console/src/api/types.ts").read_text()
    interfaces = {}
    for name, body in re.findall(r"export interface (\w+) \{\n(.*?)\n\}", text, re.S):
        fields = re.findall(r"^  (\w+)(\??):", body, re.M)
        interfaces[name] = {field: bool(optional) for field, optional in fields}
    return interfaces


def test_console_types_match_the_openapi_schemas(spec):
    schemas = spec["components"]["schemas"]
    interfaces = _console_interfaces()
    for interface, schema_name in CONSOLE_TYPES.items():
        schema = schemas[schema_name]
        fields = interfaces[interface]
        assert set(fields) <= set(schema["properties"]), (interface, set(fields) - set(schema["properties"]))
        required = [f for f, optional in fields.items() if not optional]
        assert set(required) <= set(schema.get("required", ())), (interface, set(required) - set(schema.get("required", ())))
