"""The `replay` job handler: score a product's last stored inspections with a candidate version and say
which decisions would change, counting the labelled ones, before anyone activates it. Nothing is stored
but the job's result."""

from __future__ import annotations

from goldenshot.fingerprint import Fingerprint, FingerprintError
from goldenshot.images import ImageError
from goldenshot.inspector import Inspector
from services.common.admission import header_pixels
from services.common.catalog import Catalog
from services.common.jobs import Progress
from services.common.objects import ObjectNotFound, ObjectStore
from services.core.errors import NotFound, Unavailable
from services.core.models import Inspection, Job, Label
from services.scorer.scorer import Scorer

CHANGES_LISTED = 200  # changed decisions the result lists one by one (all are counted)


class ReplayRunner:
    def __init__(self, catalog: Catalog, objects: ObjectStore, scorer: Scorer) -> None:
        self.catalog = catalog
        self.objects = objects
        self.scorer = scorer  # its backbone, limits, decode budget and inference slots

    def __call__(self, job: Job, progress: Progress) -> dict:
        product = self.catalog.products.by_id(job.product_id)
        if product is None:
            raise NotFound("the product was deleted")
        candidate = self.catalog.versions.get(product.id, job.params["version"])
        try:
            inspector = Inspector(self.scorer.extractor, Fingerprint.loads(self.objects.get(candidate.object_key), f"{product.name} v{candidate.version}"))
        except (FingerprintError, ObjectNotFound) as exc:
            raise Unavailable(f"fingerprint v{candidate.version} of '{product.name}' cannot be used: {exc}", code="fingerprint_unavailable") from exc
        # a stored score from a version with the candidate's bank is the score it would give again
        same_bank = {v.version for v in self.catalog.versions.list(product.id) if v.collection == candidate.collection}
        stored = self.catalog.inspections.page(product.id, None, None, job.params["last"], None)
        labels = self.catalog.labels.many([i.id for i in stored])
        tally = Tally()
        for n, inspection in enumerate(stored):
            try:
                score = inspection.score if inspection.version in same_bank else self._score(inspector, inspection, product.tenant)
            except (ImageError, ObjectNotFound):
                tally.failed += 1
            else:
                tally.add(inspection, score, "ANOMALOUS" if score > candidate.threshold else "OK", labels.get(inspection.id))
            progress("replaying", n + 1, len(stored))
        return {"version": candidate.version, "threshold": candidate.threshold, **tally.result()}

    def _score(self, inspector: Inspector, inspection: Inspection, tenant: str) -> float:
        """The stored image scored again, taking its turn for memory and the backbone like a batch item."""
        data = self.objects.get(inspection.image_key)
        with self.scorer.budget.hold(header_pixels(data), tenant, wait=True) as decoded:
            image, _ = inspector.decode(data, inspection.filename, self.scorer.settings.limits.max_pixels)
            decoded()
            with self.scorer.slot(tenant):
                return float(inspector.score(image)[0])


class Tally:
    """Decisions that change, and what they do to labelled inspections: a false alarm that now passes is
    fixed; a defect (confirmed or missed) that now passes is a miss introduced; and so on."""

    def __init__(self) -> None:
        self.compared = 0
        self.failed = 0
        self.to_anomalous = 0
        self.to_ok = 0
        self.counts = {"fixes_false_alarms": 0, "introduces_false_alarms": 0, "fixes_misses": 0, "introduces_misses": 0}
        self.changes: list[dict] = []

    def add(self, inspection: Inspection, score: float, decision: str, label: Label | None) -> None:
        self.compared += 1
        if decision == inspection.decision:
            return
        if decision == "ANOMALOUS":
            self.to_anomalous += 1
        else:
            self.to_ok += 1
        if label is not None:
            right = (decision == "ANOMALOUS") == label.defective
            self.counts[f"{'fixes' if right else 'introduces'}_{'misses' if label.defective else 'false_alarms'}"] += 1
        if len(self.changes) < CHANGES_LISTED:
            self.changes.append({
                "inspection_id": inspection.id, "filename": inspection.filename, "created_at": inspection.created_at,
                "score_before": inspection.score, "score_after": round(score, 6), "decision_before": inspection.decision, "decision_after": decision,
                "label": label.label if label is not None else None,
            })

    def result(self) -> dict:
        return {"compared": self.compared, "failed": self.failed, "to_anomalous": self.to_anomalous, "to_ok": self.to_ok, **self.counts, "changes": self.changes}
