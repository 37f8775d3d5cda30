"""Use case: has the line moved away from the golden samples? (camera moved, light changed, new supplier)

The statistic is the ratio of two medians: the median score of the active version's last `window`
inspections over the median leave-one-out score of the golden samples that version was built from.
Why this one:
- The golden leave-one-out scores are "a good part the bank has not seen" on the very scale of the
  scores, so an unchanged line sits near 1 whatever the product, and one setting fits every product.
- Medians ignore the few real defects in a stream (a two-sample test such as Kolmogorov-Smirnov or a
  mean would move with them) and need no distribution assumption for 3-20 golden scores.
- Every recent decision counts, not only the OK ones: a shift that pushes good parts over the
  threshold would leave only the luckiest below it, and OK-only scores (cut off at the threshold)
  would hide the very drift they should show. A stream that is over half defects is an alarm anyway.
- Both ways are flagged: a blurred or darker camera can lower scores (defects fade with the detail).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from services.common.catalog import Catalog
from services.core.models import Product


@dataclass(frozen=True)
class DriftSettings:
    window: int  # the last N inspections of the active version
    min_inspections: int  # fewer: no verdict
    high: float  # flagged at ratio >= high ...
    low: float  # ... or ratio <= low
    every: int  # the scorer refreshes the drift gauge every N inspections of a product


@dataclass(frozen=True)
class Drift:
    """The recent scores of a product's active version against its golden leave-one-out scores."""

    version: int | None  # the active version; None: no fingerprint, nothing to compare
    inspections: int  # recent inspections compared (at most the window)
    recent_median: float | None
    golden_median: float | None
    ratio: float | None  # recent_median / golden_median; None until min_inspections were scored
    flagged: bool
    direction: Literal["up", "down"] | None  # which way the scores moved, when flagged


class DriftMonitor:
    def __init__(self, catalog: Catalog, settings: DriftSettings) -> None:
        self.catalog = catalog
        self.settings = settings

    def of(self, product: Product) -> Drift:
        version = product.active_version
        if version is None:
            return Drift(None, 0, None, None, None, False, None)
        golden = self.catalog.versions.get(product.id, version).golden_scores.get("scores") or []
        recent = self.catalog.inspections.recent_scores(product.id, version, self.settings.window)
        golden_median = float(statistics.median(golden)) if golden else None
        recent_median = float(statistics.median(recent)) if recent else None
        ratio = None
        if golden_median and recent_median is not None and len(recent) >= self.settings.min_inspections:
            ratio = recent_median / golden_median
        direction: Literal["up", "down"] | None = None
        if ratio is not None and ratio >= self.settings.high:
            direction = "up"
        elif ratio is not None and ratio <= self.settings.low:
            direction = "down"
        return Drift(version, len(recent), recent_median, golden_median, ratio, direction is not None, direction)
