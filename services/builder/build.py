"""Build a fingerprint version from a product's golden samples (the `build` job handler).

Order matters for crash safety: the artifact and the vector collection are written first, then the
alias is switched, and the catalog row that makes the version visible comes last. A build run again
after a crash rewrites the same version number (reserved at request time), so it is never doubled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from goldenshot.features import FeatureExtractor
from goldenshot.fewshot import FitError, GoldenSample, fit
from goldenshot.fingerprint import Fingerprint, FingerprintError
from goldenshot.images import ImageError, decode_near, decoded_size
from goldenshot.selfconfig import largest_input
from goldenshot.settings import Settings
from services.common.admission import DecodeBudget
from services.common.catalog import Catalog
from services.common.jobs import Progress
from services.common.objects import ObjectStore
from services.core.errors import Conflict, InvalidImage, Unavailable, Unprocessable
from services.core.golden_patches import GoldenPatches
from services.core.keys import alias_name, collection_name, fingerprint_key
from services.core.models import Job, Version
from services.core.tables import now_iso


class Builder:
    """Golden samples (object store) -> fit -> artifact (object store) + collection with provenance (vector store) -> catalog."""

    def __init__(
        self,
        catalog: Catalog,
        objects: ObjectStore,
        patches: GoldenPatches,
        extractor: FeatureExtractor,
        settings: Settings,
        ready: Callable[[str, int], None],
        budget: DecodeBudget,
    ) -> None:
        self.ready = ready  # (product id, version): announces a new active version
        self.catalog = catalog
        self.objects = objects
        self.patches = patches
        self.extractor = extractor
        self.settings = settings
        self.budget = budget

    def __call__(self, job: Job, progress: Progress) -> dict:
        started = time.perf_counter()
        product_id, version = job.product_id, job.params["version"]
        stored = self.catalog.golden.list(product_id)
        if not stored:
            raise Conflict("the product has no golden samples", code="no_golden_samples")
        # fit() holds every decoded sample at once, each near the largest working size it may use, so the
        # build reserves them all (from the catalog's sizes) plus one full-size decode in flight before
        # decoding the first; a build larger than a tenant's share runs with the share to itself
        target = largest_input(self.settings)
        near = sum(math.prod(decoded_size((s.height, s.width), target)) for s in stored)
        with self.budget.hold(near + max(s.width * s.height for s in stored), job.tenant, wait=True) as decoded:
            samples = []
            for i, sample in enumerate(stored):
                try:
                    data = self.objects.get(sample.object_key)
                    image = decode_near(data, sample.filename, self.settings.limits.max_pixels, target).image
                except ImageError as exc:
                    raise InvalidImage(str(exc)) from exc
                samples.append(GoldenSample(sample.filename, sample.sha256, image))
                progress("loading", i + 1, len(stored))
            decoded()  # the fit is not decoding: it is charged to the job queue's turns, not the decode share
            try:
                fingerprint = fit(samples, self.extractor, self.settings, job.params.get("threshold"), progress)
            except (FitError, ValueError) as exc:
                raise Unprocessable(str(exc), code="fit_failed") from exc
            del samples
        progress("storing", 0, 3)
        key = fingerprint_key(product_id, version)
        self.objects.put(key, fingerprint.dumps())
        try:  # read back: a file damaged on the way to disk must never become the active version
            Fingerprint.loads(self.objects.get(key), key)
        except FingerprintError as exc:
            raise Unavailable(f"the new fingerprint did not survive storage ({exc}); the active version is unchanged", code="fingerprint_unavailable") from exc
        progress("storing", 1, 3)
        collection = collection_name(product_id, version)
        self.patches.write(collection, fingerprint)
        progress("storing", 2, 3)
        self.patches.vectors.point_alias(alias_name(product_id), collection)
        meta = fingerprint.meta
        golden = meta.golden
        self.catalog.versions.add(
            Version(
                product_id=product_id,
                version=version,
                created_at=now_iso(),
                threshold=meta.threshold,
                pixel_threshold=meta.pixel_threshold,
                threshold_source=meta.threshold_source,
                golden_count=len(meta.sources),
                coreset_rows=meta.coreset_rows,
                golden_scores={
                    "mean": golden.mean, "std": golden.std, "max": golden.max, "scores": golden.scores,
                    "distances": golden.distances, "distance_threshold": meta.distance_threshold,
                    "target_fpr": meta.target_fpr,
                    "selfconfig": meta.selfconfig.model_dump() if meta.selfconfig else None,
                    "strays": [stray.model_dump() for stray in meta.strays],
                    "sources": [source.model_dump() for source in meta.sources],  # which samples it used (golden health)
                },
                build_seconds=round(time.perf_counter() - started, 3),
                sha256=fingerprint.sha256,
                object_key=key,
                collection=collection,
            ),
            activate=True,
            actor=job.params.get("actor") or "build",  # a build requested before requests named who
        )
        progress("storing", 3, 3)
        self.ready(product_id, version)
        return {"version": version}
