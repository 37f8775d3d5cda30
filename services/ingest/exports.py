"""Route: a product's inspections as CSV or JSON, streamed, for spreadsheets and quality reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from services.core.labels import Labels
from services.core.models import Inspection, Label, LabelKind, Product
from services.ingest.deps import InspectionsDep, LabelsDep, ProductDep
from services.schemas import InspectionOut

router = APIRouter(prefix="/v1/products/{name}", tags=["inspections"])

COLUMNS = ["id", "created_at", "filename", "version", "decision", "score", "threshold", "regions", "batch_id", "label", "note", "labelled_by", "labelled_at"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """Text a spreadsheet would run as a formula (a filename or note starting with '=', '+', '-', '@')
    gets a leading apostrophe: shown as typed, never evaluated."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(inspection: Inspection, label: Label | None) -> list[object]:
    return [
        inspection.id, inspection.created_at, cell(inspection.filename), inspection.version, inspection.decision, inspection.score, inspection.threshold,
        len(inspection.regions), inspection.batch_id or "", label.label if label else "", cell(label.note) if label else "",
        cell(label.actor) if label else "", label.created_at if label else "",
    ]


def as_csv(chunks: Iterator[list[Inspection]], labels: Labels) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for chunk in chunks:
        found = labels.of(chunk)
        writer.writerows(csv_row(i, found.get(i.id)) for i in chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header alone when nothing matched


def as_json(product: Product, chunks: Iterator[list[Inspection]], labels: Labels) -> Iterator[str]:
    yield "["
    first = True
    for chunk in chunks:
        found = labels.of(chunk)
        for inspection in chunk:
            yield ("" if first else ",") + InspectionOut.of(product, inspection, found.get(inspection.id)).model_dump_json()
            first = False
    yield "]"


@router.get(
    "/inspections/export",
    response_class=StreamingResponse,
    responses={200: {
        "description": "a CSV file with a header row, or a JSON array of inspections",
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/InspectionOut"}}}},
    }},
)
def export_inspections(
    product: ProductDep,
    inspections: InspectionsDep,
    labels: LabelsDep,
    format: Literal["csv", "json"] = "csv",
    since: str | None = None,
    until: str | None = None,
    decision: Literal["OK", "ANOMALOUS"] | None = None,
    label: LabelKind | None = None,
) -> StreamingResponse:
    """Oldest first, streamed. since (inclusive) and until (exclusive): ISO 8601 dates or times, UTC
    unless a zone is given. Text a person typed is made safe for spreadsheets (no formulas)."""
    chunks = inspections.export(product, since, until, decision, label)  # bad dates: 400 before the first byte
    body = as_csv(chunks, labels) if format == "csv" else as_json(product, chunks, labels)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    headers = {"Content-Disposition": f'attachment; filename="{product.name}-inspections.{format}"'}
    return StreamingResponse(body, media_type=media, headers=headers)
