"""Use cases on fingerprint versions and jobs: request a build, list, read the file, activate (rollback)."""

from __future__ import annotations

from services.common.catalog import Catalog
from services.common.jobs import JobRunner
from services.common.names import check_id
from services.common.objects import ObjectStore
from services.common.vectors import VectorStore
from services.core.errors import Conflict
from services.core.keys import alias_name
from services.core.models import Job, Product, Version


class Fingerprints:
    def __init__(self, catalog: Catalog, objects: ObjectStore, vectors: VectorStore, runner: JobRunner) -> None:
        self.catalog = catalog
        self.objects = objects
        self.vectors = vectors
        self.runner = runner

    def request_build(self, tenant: str, product: Product, threshold: float | None) -> Job:
        """Queue a build of the next version; inspections keep the active one until it is ready."""
        if not self.catalog.golden.count(product.id):
            raise Conflict(f"product '{product.name}' has no golden samples: upload some first", code="no_golden_samples")
        version = self.catalog.products.allocate_version(product.id)
        return self.runner.submit(tenant, product, "build", {"version": version, "threshold": threshold})

    def versions(self, product: Product) -> list[Version]:
        """Newest first."""
        return self.catalog.versions.list(product.id)

    def version(self, product: Product, version: int) -> Version:
        return self.catalog.versions.get(product.id, version)

    def file(self, product: Product, version: int) -> bytes:
        """The artifact itself (safetensors), usable offline with `goldenshot inspect --fingerprint`."""
        return self.objects.get(self.version(product, version).object_key)

    def activate(self, product: Product, version: int) -> Version:
        """Roll back (or forward): the alias and the catalog switch; the next inspection loads that bank."""
        chosen = self.version(product, version)
        self.vectors.point_alias(alias_name(product.id), chosen.collection)
        self.catalog.products.activate(product.id, version)
        return chosen

    def job(self, tenant: str, job_id: str) -> Job:
        return self.catalog.jobs.get(check_id(job_id, "job id"), tenant)

    def jobs(self, tenant: str, product: Product | None, state: str | None, limit: int) -> list[Job]:
        """Newest first."""
        return self.catalog.jobs.list(tenant, product.id if product is not None else None, state, limit)
