"""Use cases on labels: what a person says an inspection really was, and the labelled history that
threshold tuning is judged on."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.common.catalog import Catalog
from services.common.names import check_id
from services.common.objects import ObjectStore
from services.core.defects import DefectLibrary
from services.core.errors import Conflict, InvalidRequest
from services.core.golden import GoldenSamples
from services.core.models import Inspection, Label, LabelKind, Product, ScorePoint, Version
from services.core.tables import now_iso
from services.core.uploads import Upload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tuning:
    """What a threshold slider needs: the version, its bank's scored history and the product's highest score."""

    version: Version
    points: list[ScorePoint]  # newest first, from every version that shares this version's bank
    max_score: float | None  # over every inspection of the product, whichever version scored it


class Labels:
    def __init__(self, catalog: Catalog, objects: ObjectStore, golden: GoldenSamples, defects: DefectLibrary | None, note_max_chars: int, tuning_limit: int) -> None:
        self.catalog = catalog
        self.objects = objects
        self.golden = golden
        self.defects = defects  # its copy of the label follows this one
        self.note_max_chars = note_max_chars
        self.tuning_limit = tuning_limit

    def _inspection(self, product: Product, inspection_id: str) -> Inspection:
        return self.catalog.inspections.get(product.id, check_id(inspection_id, "inspection id"))

    def set(self, product: Product, inspection_id: str, label: LabelKind, note: str, actor: str) -> Label:
        """Label (or relabel) an inspection; the previous label, if any, is replaced."""
        if len(note) > self.note_max_chars:
            raise InvalidRequest(f"the note is {len(note)} characters long; at most {self.note_max_chars} are kept")
        inspection = self._inspection(product, inspection_id)
        stored = Label(inspection_id=inspection.id, product_id=product.id, label=label, note=note.strip(), actor=actor, created_at=now_iso())
        self.catalog.labels.set(stored)
        self._follow(inspection, label)
        return stored

    def clear(self, product: Product, inspection_id: str) -> None:
        inspection = self._inspection(product, inspection_id)
        self.catalog.labels.clear(inspection.id)
        self._follow(inspection, None)

    def get(self, product: Product, inspection_id: str) -> Label | None:
        return self.catalog.labels.get(self._inspection(product, inspection_id).id)

    def of(self, inspections: list[Inspection]) -> dict[str, Label]:
        """The labels of a page of inspections, by inspection id, in one query."""
        return self.catalog.labels.many([i.id for i in inspections])

    def counts(self, product: Product) -> dict[str, int]:
        """Every label kind, 0 where none."""
        found = self.catalog.labels.counts(product.id)
        return {kind: found.get(kind, 0) for kind in ("confirmed_defect", "false_alarm", "missed_defect")}

    def feedback(self, product: Product, inspection_id: str, false_alarm: bool, add_to_golden: bool, actor: str) -> Inspection:
        """The older false-alarm feedback, kept for its clients: a `false_alarm` label (or none); optionally
        the image becomes a golden sample for the next build."""
        if false_alarm:
            self.set(product, inspection_id, "false_alarm", "", actor)
        else:
            self.clear(product, inspection_id)
        inspection = self._inspection(product, inspection_id)
        if add_to_golden:
            self.golden.add(product, [Upload(inspection.filename, self.objects.get(inspection.image_key))])
        return inspection

    def tuning(self, product: Product, version: int | None) -> Tuning:
        """The scores a threshold for `version` (default: the active one) can be judged on: inspections
        scored by any version with the same bank (a tuned version shares its parent's), newest first."""
        if version is None and product.active_version is None:
            raise Conflict(f"product '{product.name}' has no fingerprint yet", code="no_fingerprint")
        chosen = self.catalog.versions.get(product.id, version if version is not None else product.active_version)
        same_bank = [v.version for v in self.catalog.versions.list(product.id) if v.collection == chosen.collection]
        points = self.catalog.labels.scores(product.id, same_bank, self.tuning_limit)
        return Tuning(chosen, points, self.catalog.inspections.max_score(product.id))

    def _follow(self, inspection: Inspection, label: LabelKind | None) -> None:
        if self.defects is None:
            return
        try:
            self.defects.label(inspection, label)  # confirmed, false alarm or missed: the library groups by it
        except Exception as exc:  # the label is stored; the library's copy of it is not essential
            log.warning("defect library label of %s not updated: %s", inspection.id, exc)
