"""Self-configuration: each product chooses its own configuration from its golden samples alone.

Defaults tuned on a few products do not carry over to the next one (support augmentation helps
one product and hurts another). So the fit tries a small set of candidate configurations on the
product's own golden samples: for each, every golden unit is held out of the bank and scored, as
are synthetic defects drawn on it (goldenshot.synthetic); the candidate whose bank best separates
held-out goods from synthetic defects (AUROC) is kept, its validation numbers go into the
fingerprint. The first candidate is the fallback and wins ties.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from goldenshot import metrics
from goldenshot.features import FeatureExtractor
from goldenshot.bank import Bank, GoldenSample, Progress, Units, build_bank, quadrants, support_units
from goldenshot.fingerprint import Validation
from goldenshot.images import Target
from goldenshot.preprocess import working_size
from goldenshot.scoring import score_grid, squared_norms
from goldenshot.settings import Settings
from goldenshot.subspace import fit_subspace
from goldenshot.synthetic import synthesize


def _with(group: str, **values: object) -> Callable[[Settings], Settings]:
    """A candidate: the settings with some fields of one group replaced."""
    return lambda s: s.model_copy(update={group: getattr(s, group).model_copy(update=values)})


# Candidate configurations by name (settings.selfconfig.candidates picks and orders them).
CANDIDATES: dict[str, Callable[[Settings], Settings]] = {
    "augment": _with("augment", enabled=True),  # the augmentation settings as configured
    "plain": _with("augment", enabled=False),  # golden samples as photographed
    "max": _with("scoring", image_score="max"),  # one hot patch decides: small defects
    "subspace": _with("scoring", patch_score="knn+subspace"),  # the default score; a candidate where patch_score="knn"
    "size_384": _with("preprocess", size=384),  # finer grid: small defects, ~2.3x the time
    "neighbourhood_1": _with("preprocess", neighbourhood=1),  # each patch alone, not averaged: few-pixel defects, same time
    "size_512": _with("preprocess", size=512),  # ~4x the time
}


def largest_input(settings: Settings) -> Target:
    """A photo's (height, width) -> the largest working size any configuration the fit may try gives
    it: golden samples decoded near that size (goldenshot.images.decode_near) lose nothing a candidate
    uses, and 200 golden 24 MP photos fit in memory at once."""
    names = settings.selfconfig.candidates if settings.selfconfig.enabled else ()
    configs = [settings.preprocess] + [CANDIDATES[name](settings).preprocess for name in names if name in CANDIDATES]
    return lambda height, width: max((working_size(height, width, c) for c in configs), key=lambda hw: hw[0] * hw[1])


@dataclass
class Choice:
    """The configuration the fit goes on with, its bank, and how it was chosen (None: no choice made)."""

    settings: Settings
    extractor: FeatureExtractor
    units: Units
    bank: Bank
    defects: list[float]  # synthetic-defect scores against this bank (empty: not validated)
    report: Validation | None = None


def choose(samples: Sequence[GoldenSample], extractor: FeatureExtractor, settings: Settings, progress: Progress) -> Choice:
    """Build every candidate's bank, validate each on held-out goods vs synthetic defects, keep the best."""
    names = settings.selfconfig.candidates if settings.selfconfig.enabled else ()
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown self-configuration candidates {unknown}; valid: {', '.join(CANDIDATES)}")
    if len(names) < 2:
        candidate = CANDIDATES[names[0]](settings) if names else settings
        return _build(samples, extractor, candidate, progress, {}, validate=False)
    start = time.perf_counter()
    built: dict[tuple, tuple] = {}
    tried: list[tuple[str, float, Choice]] = []
    for name in names:
        choice = _build(samples, extractor, CANDIDATES[name](settings), progress, built, validate=True)
        if not choice.bank.scores:  # one unit in the bank: nothing can be held out, keep the fallback
            return tried[0][2] if tried else choice
        labels = [0] * len(choice.bank.scores) + [1] * len(choice.defects)
        tried.append((name, metrics.image_auroc(labels, choice.bank.scores + choice.defects), choice))
        progress("self-configuration", len(tried), len(names))
    best = tried[0]
    for entry in tried[1:]:
        if entry[1] > best[1] + settings.selfconfig.margin:
            best = entry
    best[2].report = Validation(
        chosen=best[0],
        auroc={name: round(auroc, 4) for name, auroc, _ in tried},
        defects=len(best[2].defects),
        seconds=round(time.perf_counter() - start, 3),
    )
    return best[2]


def _build(samples: Sequence[GoldenSample], extractor: FeatureExtractor, settings: Settings, progress: Progress, built: dict, validate: bool) -> Choice:
    """One candidate's bank and synthetic-defect scores. Features and coreset depend on the working
    size, augmentation and coreset settings only, so candidates that differ in scoring share them."""
    key = ("bank", settings.preprocess.model_dump_json(), settings.augment.model_dump_json(), settings.coreset.model_dump_json())
    if key not in built:
        ext = FeatureExtractor(extractor.backbone, settings.preprocess, extractor.projection)
        units = support_units(samples, ext, settings, progress)
        built[key] = (ext, units, build_bank(units, settings, progress), settings.scoring)
    ext, units, bank, scored_with = built[key]
    if settings.scoring != scored_with:  # same rows, leave-one-out scores on this candidate's scale
        bank = build_bank(units, settings, progress, rows=(bank.rows, bank.owner, bank.where))
    defects = synthetic_scores(units, ext, bank, settings, built) if validate and bank.scores else []
    return Choice(settings, ext, units, bank, defects)


def synthetic_scores(units: Units, extractor: FeatureExtractor, bank: Bank, settings: Settings, cache: dict) -> list[float]:
    """Scores of synthetic defects drawn on each held-out unit, against the bank without that unit.

    The damaged images depend only on the golden images and the working size, so their features
    are shared (through `cache`) by candidates that differ in augmentation or scoring.
    """
    key = ("synthetic", settings.preprocess.model_dump_json())
    if key not in cache:
        cache[key] = [_synthetic_features(units, extractor, settings, unit) for unit, _, _ in units.originals]
    bank_sq = squared_norms(bank.rows)
    out = []
    scoring = settings.scoring
    for (unit, _, size), feats in zip(units.originals, cache[key]):
        exclude = bank.owner == unit
        # the reduced bank's PCA once per unit, not once per synthetic defect
        subspace = fit_subspace(bank.rows, scoring.subspace_energy, exclude) if scoring.patch_score != "knn" else None
        for grid in feats:
            out.append(score_grid(grid, size, bank.rows, bank_sq, scoring, settings.maps.sigma, exclude, subspace=subspace)[0])
    return out


def _synthetic_features(units: Units, extractor: FeatureExtractor, settings: Settings, unit: int) -> torch.Tensor:
    """Patch grids [M, h, w, D] of synthetic defects drawn on one unit (with one sample: in its quadrant)."""
    config = settings.selfconfig
    image = units.images[0 if units.single else unit]
    area = quadrants(*image.shape[-2:])[unit] if units.single else None
    damaged = synthesize(image, config.kinds, config.defects_per_unit, seed=settings.seed * 7919 + unit, area=area)
    feats = extractor(torch.stack(damaged))
    if units.single:
        rows, cols = quadrants(*feats.shape[1:3])[unit]
        feats = feats[:, rows, cols]
    return feats
