"""Use case: the health of a version's golden samples: each one's leave-one-out score and a warning for outliers.

A golden sample's leave-one-out score says how unlike the others it is. One photo of the wrong product, or
a bad photo, scores far above the rest and silently raises the threshold (by 16 % in one case) when there are
too few samples for the fit to leave it out as a stray (goldenshot.threshold.strays needs five). The warning
here compares each kept sample with the median of the others, which works from three samples on.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from goldenshot.fingerprint import Fingerprint, FingerprintError, Source
from services.common.catalog import Catalog
from services.common.objects import ObjectNotFound, ObjectStore
from services.core.errors import Unavailable
from services.core.models import Product, Version

HealthStatus = Literal["ok", "outlier", "left_out", "unscored"]


@dataclass(frozen=True)
class SampleHealth:
    """One golden sample as a version used it."""

    name: str
    sha256: str
    golden_id: str | None  # the sample's id today; None: deleted since the build
    score: float | None  # leave-one-out; None: not scored per sample (a single sample, or a threshold set by hand)
    ratio: float | None  # the kNN part of its score over the median of the other samples' (kept) or score over the kept scores' median (left out)
    status: HealthStatus  # outlier: kept but unlike the others; left_out: the fit left it out as a stray


class GoldenHealth:
    def __init__(self, catalog: Catalog, objects: ObjectStore, outlier_ratio: float) -> None:
        self.catalog = catalog
        self.objects = objects
        self.outlier_ratio = outlier_ratio

    def samples(self, product: Product, version: int) -> list[SampleHealth]:
        """The samples `version` was built from, in upload order, each with its score and status."""
        stored = self.catalog.versions.get(product.id, version)
        sources = self._sources(product, stored)
        scores = [float(s) for s in stored.golden_scores.get("scores") or []]
        # outliers are judged on the kNN part of the scores, like the fit's strays (goldenshot.bank)
        distances = [float(s) for s in stored.golden_scores.get("distances") or []] or scores
        left_out = _strays(sources, stored.golden_scores.get("strays", []))
        kept = [s for s in sources if s.sha256 not in left_out]
        by_sha = {g.sha256: g.id for g in self.catalog.golden.list(product.id)}
        per_sample = dict(zip((s.sha256 for s in kept), zip(scores, distances))) if len(kept) == len(scores) == len(distances) else {}
        out = []
        for source in sources:
            if source.sha256 in left_out:
                score = left_out[source.sha256]
                ratio = score / statistics.median(scores) if scores and statistics.median(scores) > 0 else None
                status: HealthStatus = "left_out"
            elif source.sha256 in per_sample:
                score, distance = per_sample[source.sha256]
                others = [d for sha, (_, d) in per_sample.items() if sha != source.sha256]
                middle = statistics.median(others) if others else 0.0
                ratio = distance / middle if middle > 0 else None
                status = "outlier" if ratio is not None and len(others) >= 2 and ratio >= self.outlier_ratio else "ok"
            else:
                score, ratio, status = None, None, "unscored"
            out.append(SampleHealth(source.name, source.sha256, by_sha.get(source.sha256), score, ratio, status))
        return out

    def _sources(self, product: Product, stored: Version) -> list[Source]:
        """Recorded with the version since golden health exists; read from the fingerprint's header before."""
        if "sources" in stored.golden_scores:
            return [Source.model_validate(s) for s in stored.golden_scores["sources"]]
        try:
            return Fingerprint.read_meta(self.objects.get(stored.object_key), f"{product.name} v{stored.version}").sources
        except (FingerprintError, ObjectNotFound) as exc:
            raise Unavailable(f"fingerprint v{stored.version} of '{product.name}' cannot be read: {exc}", code="fingerprint_unavailable") from exc


def _strays(sources: list[Source], strays: list[dict]) -> dict[str, float]:
    """sha256 -> leave-one-out score of the sources the fit left out. Strays are recorded by name, in
    upload order: each takes the first source of its name not taken yet, so two files of one name stay apart."""
    out: dict[str, float] = {}
    for stray in strays:
        match = next((s for s in sources if s.name == stray["name"] and s.sha256 not in out), None)
        if match is not None:
            out[match.sha256] = float(stray["score"])
    return out
