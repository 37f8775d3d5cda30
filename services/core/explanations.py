"""Use cases that explain a stored inspection: the golden patches nearest to each region, and past
inspections with similar defects. Both read the vector store on request, never during the decision."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.catalog import Catalog
from services.common.names import check_id
from services.core.defects import DefectKind, DefectLibrary, SimilarDefect
from services.core.golden_patches import GoldenPatches
from services.core.models import Golden, Inspection, Product


@dataclass(frozen=True)
class GoldenPatch:
    """One bank row near a region: where it came from, and its box in the golden image when the row
    comes from the image as uploaded (view 0; an augmented view's pixels map nowhere in it)."""

    golden_id: str | None  # None: the sample was deleted since the build
    sample: int
    name: str
    view: int
    row: int
    col: int
    distance: float
    bbox: tuple[int, int, int, int] | None


@dataclass(frozen=True)
class RegionExplanation:
    region: int
    golden: list[GoldenPatch]  # nearest first; [] when the region's embedding was not recorded


def golden_ids(catalog: Catalog, product_id: str) -> dict[str, Golden]:
    """sha256 -> the product's golden sample: what a fingerprint's provenance (sha256) points at."""
    return {g.sha256: g for g in catalog.golden.list(product_id)}


def patch_box(golden: Golden | None, row: int, col: int, grid_h: int, grid_w: int) -> tuple[int, int, int, int] | None:
    """A patch's cell of the grid in the golden image's pixels (x, y, width, height)."""
    if golden is None or grid_h <= 0 or grid_w <= 0:
        return None
    x0, x1 = col * golden.width // grid_w, (col + 1) * golden.width // grid_w
    y0, y1 = row * golden.height // grid_h, (row + 1) * golden.height // grid_h
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


class Explanations:
    def __init__(self, catalog: Catalog, patches: GoldenPatches, defects: DefectLibrary, top_k: int, similar_limit: int) -> None:
        self.catalog = catalog
        self.patches = patches
        self.defects = defects
        self.top_k = top_k
        self.similar_limit = similar_limit

    def _inspection(self, product: Product, inspection_id: str) -> Inspection:
        """The product's inspection: another product's (so another tenant's) is not found."""
        return self.catalog.inspections.get(product.id, check_id(inspection_id, "inspection id"))

    def explain(self, product: Product, inspection_id: str, k: int) -> list[RegionExplanation]:
        """Per region, the k golden patches nearest to its peak patch, from the version's collection."""
        inspection = self._inspection(product, inspection_id)
        vectors, payloads = self.defects.regions(inspection)
        if not inspection.regions or not len(vectors) or inspection.version == 0:
            return [RegionExplanation(i, []) for i in range(len(inspection.regions))]
        version = self.catalog.versions.get(product.id, inspection.version)
        hits = self.patches.top_k(version, vectors, min(k, self.top_k))
        samples = golden_ids(self.catalog, product.id)
        found = {p["region"]: h for p, h in zip(payloads, hits)}
        out = []
        for i in range(len(inspection.regions)):
            golden = []
            for hit in found.get(i, []):
                p = hit.payload
                if "sample" not in p:  # a fingerprint without provenance
                    continue
                sample = samples.get(p["sha256"])
                box = patch_box(sample, p["row"], p["col"], p["grid_h"], p["grid_w"]) if p["view"] == 0 else None
                golden.append(GoldenPatch(sample.id if sample else None, p["sample"], p["name"], p["view"], p["row"], p["col"], hit.distance, box))
            out.append(RegionExplanation(i, golden))
        return out

    def similar(self, product: Product, inspection_id: str, limit: int) -> list[SimilarDefect]:
        return self.defects.similar(self._inspection(product, inspection_id), min(limit, self.similar_limit))

    def kinds(self, product: Product, newest: int) -> tuple[list[DefectKind], float | None]:
        """The product's recurring defects under its active version, and the distance that separates
        kinds: the threshold of the kNN part of the golden scores, a distance between features like the
        kinds' (the decision threshold in versions built before it was stored); none before a first fingerprint."""
        if product.active_version is None:
            return [], None
        version = self.catalog.versions.get(product.id, product.active_version)
        scale = version.golden_scores.get("distance_threshold") or version.threshold
        return self.defects.kinds(product.id, product.active_version, scale, newest), scale
