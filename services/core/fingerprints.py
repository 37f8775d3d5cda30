"""Use cases on fingerprint versions and jobs: request a build, list, read the file, tune a threshold,
replay a candidate on stored inspections, activate (rollback) and the activation history."""

from __future__ import annotations

import math

from goldenshot.fingerprint import Fingerprint, FingerprintError
from services.common.catalog import Catalog
from services.common.jobs import JobRunner
from services.common.names import check_id
from services.common.objects import ObjectNotFound, ObjectStore
from services.common.vectors import VectorStore
from services.core.errors import Conflict, InvalidRequest, Unavailable
from services.core.keys import alias_name, fingerprint_key
from services.core.models import Activation, Job, Product, Version, VersionOrigin
from services.core.tables import now_iso


class Fingerprints:
    def __init__(self, catalog: Catalog, objects: ObjectStore, vectors: VectorStore, runner: JobRunner, replay_max: int) -> None:
        self.replay_max = replay_max  # stored inspections one replay scores again, at most
        self.catalog = catalog
        self.objects = objects
        self.vectors = vectors
        self.runner = runner

    def request_build(self, tenant: str, product: Product, threshold: float | None, actor: str) -> Job:
        """Queue a build of the next version; inspections keep the active one until it is ready, and its
        activation is recorded as `actor`'s."""
        if not self.catalog.golden.count(product.id):
            raise Conflict(f"product '{product.name}' has no golden samples: upload some first", code="no_golden_samples")
        version = self.catalog.products.allocate_version(product.id)
        return self.runner.submit(tenant, product, "build", {"version": version, "threshold": threshold, "actor": actor})

    def versions(self, product: Product) -> list[Version]:
        """Newest first."""
        return self.catalog.versions.list(product.id)

    def version(self, product: Product, version: int) -> Version:
        return self.catalog.versions.get(product.id, version)

    def file(self, product: Product, version: int) -> bytes:
        """The artifact itself (safetensors), usable offline with `goldenshot inspect --fingerprint`."""
        return self.objects.get(self.version(product, version).object_key)

    def activate(self, product: Product, version: int, actor: str) -> Version:
        """Roll back (or forward): the alias and the catalog switch, recorded with who did it; the next
        inspection loads that bank."""
        chosen = self.version(product, version)
        self.vectors.point_alias(alias_name(product.id), chosen.collection)
        self.catalog.products.activate(product.id, version, actor)
        return chosen

    def activations(self, product: Product, limit: int) -> list[Activation]:
        """Newest first: who activated which version, when, and which one it replaced."""
        return self.catalog.history.activations(product.id, limit)

    def origins(self, product: Product) -> dict[int, VersionOrigin]:
        """By version, where each version that was not built came from (who, when, why)."""
        return self.catalog.history.origins(product.id)

    def tune(self, product: Product, version: int, threshold: float, confirm: bool, actor: str, reason: str) -> Version:
        """A new, inactive version with `version`'s bank and another threshold: no rebuild, the stored
        fingerprint is copied with new metadata. A threshold above every score the product has had would
        pass every defect seen so far, so it needs `confirm`."""
        if not (math.isfinite(threshold) and threshold > 0):
            raise InvalidRequest(f"the threshold must be a positive number, not {threshold}")
        base = self.version(product, version)
        highest = self.catalog.inspections.max_score(product.id)
        if highest is not None and threshold > highest and not confirm:
            raise Conflict(
                f"threshold {threshold:g} is above every score '{product.name}' has had (highest {highest:g}): nothing seen so far "
                "would be flagged; send confirm=true to save it anyway",
                code="confirm_required",
            )
        try:
            fingerprint = Fingerprint.loads(self.objects.get(base.object_key), f"{product.name} v{version}").with_threshold(threshold)
        except (FingerprintError, ObjectNotFound) as exc:
            raise Unavailable(f"fingerprint v{version} of '{product.name}' cannot be read: {exc}", code="fingerprint_unavailable") from exc
        number = self.catalog.products.allocate_version(product.id)
        key = fingerprint_key(product.id, number)
        self.objects.put(key, fingerprint.dumps())
        created = now_iso()
        tuned = base.model_copy(update={
            "version": number, "created_at": created, "threshold": fingerprint.meta.threshold, "pixel_threshold": fingerprint.meta.pixel_threshold,
            "threshold_source": "tuned", "build_seconds": 0.0, "sha256": fingerprint.sha256, "object_key": key,
        })  # the same collection: the bank, and so the nearest golden patches, are the parent's
        why = f"threshold tuned from {base.threshold:.4g} to {threshold:.4g}" + (f": {reason.strip()}" if reason.strip() else "")
        origin = VersionOrigin(product_id=product.id, version=number, parent_version=base.version, actor=actor, reason=why, created_at=created)
        self.catalog.versions.add(tuned, activate=False, actor=actor, origin=origin)
        return tuned

    def request_replay(self, tenant: str, product: Product, version: int, last: int) -> Job:
        """Queue scoring the product's last `last` stored inspections with `version` (nothing is stored
        or activated): which decisions would change, before anyone activates it."""
        if not 1 <= last <= self.replay_max:
            raise InvalidRequest(f"replay between 1 and {self.replay_max} inspections, not {last}")
        self.version(product, version)  # NotFound now, not in the job
        if not self.catalog.inspections.count(product.id):
            raise Conflict(f"product '{product.name}' has no stored inspections to replay", code="no_inspections")
        return self.runner.submit(tenant, product, "replay", {"version": version, "last": last})

    def job(self, tenant: str, job_id: str) -> Job:
        return self.catalog.jobs.get(check_id(job_id, "job id"), tenant)

    def jobs(self, tenant: str, product: Product | None, state: str | None, limit: int) -> list[Job]:
        """Newest first."""
        return self.catalog.jobs.list(tenant, product.id if product is not None else None, state, limit)
