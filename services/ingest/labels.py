"""Routes: label an inspection (what the part really was), and the labelled history threshold tuning reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.core.models import LabelKind
from services.ingest.deps import CallerDep, LabelsDep, ProductDep
from services.schemas import LabelOut, TuningOut

router = APIRouter(prefix="/v1/products/{name}", tags=["labels"])


class LabelIn(BaseModel):
    label: LabelKind = Field(description="confirmed_defect, false_alarm, or missed_defect (an OK result that was bad)")
    note: str = Field("", description="optional, for people")


@router.put("/inspections/{inspection_id}/label")
def set_label(inspection_id: str, body: LabelIn, caller: CallerDep, product: ProductDep, labels: LabelsDep) -> LabelOut:
    """Label the inspection (a new label replaces the old); who and when are recorded."""
    return LabelOut.of(labels.set(product, inspection_id, body.label, body.note, caller.actor))


@router.delete("/inspections/{inspection_id}/label", status_code=204)
def clear_label(inspection_id: str, product: ProductDep, labels: LabelsDep) -> None:
    labels.clear(product, inspection_id)


@router.get("/tuning")
def tuning(
    product: ProductDep, labels: LabelsDep, version: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="default: the active version")] = None
) -> TuningOut:
    """Scores, decisions and labels of the inspections made with this version's bank: what a threshold
    slider counts false alarms and misses on (in the client)."""
    return TuningOut.of(labels.tuning(product, version))
