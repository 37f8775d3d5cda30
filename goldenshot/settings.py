"""Every tunable of the engine in one typed object, read from env (GOLDENSHOT_*) and the CLI.

Nested groups are set from env with a double underscore, e.g. GOLDENSHOT_CORESET__RATIO=0.05.
The defaults are the ones docs/accuracy.md was measured with, each chosen on every dev category
together (bench/ablate.py, bench/loco.py); nothing keys on a category.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class PreprocessSettings(BaseModel):
    """How an image becomes the backbone's input."""

    # The image is resized to about size*size pixels. keep_aspect=True keeps long parts unsquashed;
    # measured over K=1..8 x 3 seeds it scored below the square resize on ball screw (K=1: .79 vs .87)
    # and within noise of it on magnetic tile, so square is the default.
    size: int = Field(256, ge=32, le=2048)
    keep_aspect: bool = False
    # Odd side of the square each patch feature is averaged over (PatchCore's 3). 1 keeps each patch
    # alone: few-pixel defects (circuit boards) stand out, wide ones (tiles) drown in texture
    # (docs/accuracy.md), so it is a self-configuration candidate, not the default.
    neighbourhood: int = Field(3, ge=1, le=9)

    @field_validator("neighbourhood")
    @classmethod
    def _odd(cls, side: int) -> int:
        if side % 2 == 0:
            raise ValueError(f"neighbourhood must be odd (a patch in the middle of its square), got {side}")
        return side


class AugmentSettings(BaseModel):
    """Support-set augmentation: each switch on/off, each magnitude bounded."""

    enabled: bool = True
    copies: int = Field(3, ge=0, le=32)  # augmented copies per golden sample, beside the original
    grayscale: bool = True
    hflip: bool = True
    vflip: bool = True
    translate: float = Field(0.05, ge=0.0, le=0.25)  # max shift, fraction of width/height
    rotate: float = Field(5.0, ge=0.0, le=180.0)  # max degrees
    brightness: float = Field(0.1, ge=0.0, le=0.5)  # max relative change
    contrast: float = Field(0.1, ge=0.0, le=0.5)


class CoresetSettings(BaseModel):
    """Greedy k-center subsampling of the memory bank."""

    # 10 % capped at 4096 rows scored as well as the full bank on both shared categories
    # (K=1..4), at half the kNN time of 25 % / 10,000 rows
    ratio: float = Field(0.1, gt=0.0, le=1.0)
    size: int | None = Field(None, ge=1)  # absolute size; wins over ratio
    max_size: int = Field(4096, ge=1)  # caps bank rows: scoring time and fingerprint size
    projection_dim: int = Field(128, ge=1)


class ScoringSettings(BaseModel):
    """Patch and image scores."""

    reweight: bool = False  # PatchCore's re-weighting of the image score
    reweight_neighbours: int = Field(9, ge=1)
    image_score: Literal["max", "topk_mean", "map_max"] = "topk_mean"  # map_max: peak of the smoothed map
    top_n: int = Field(10, ge=1)
    # Patch score: distance to the nearest bank row ("knn", PatchCore), the residual outside the bank's
    # principal subspace ("subspace", SubspaceAD, goldenshot.subspace), or their sum. The sum at 0.95 energy
    # raised image AUROC on every dev category and each held out (docs/accuracy.md); stray golden samples
    # and defect kinds are judged on its kNN part, the scale they were calibrated on.
    patch_score: Literal["knn", "subspace", "knn+subspace"] = "knn+subspace"
    subspace_energy: float = Field(0.95, gt=0.0, le=1.0)  # share of the bank's variance the subspace keeps
    # The residual decides the image score; the map (pixel scores, regions) shows it too only if set: it
    # spreads over whole areas of unusual texture, which cost circuit boards pixel AUROC and AUPRO.
    subspace_in_map: bool = False
    chunk_rows: int = Field(8192, ge=256)  # bank rows per kNN chunk: bounds memory


class MapSettings(BaseModel):
    """Heatmaps and defect regions."""

    sigma: float = Field(4.0, ge=0.0)
    min_region_area: int = Field(16, ge=0)  # pixels in the original image
    morph_kernel: int = Field(5, ge=1)  # opening/closing kernel side, pixels
    # Longest side of the map regions are traced on and heatmap/overlay PNGs are drawn at; larger
    # photos get a scaled map (regions still in the photo's pixels): a 24 MP photo's full-size float
    # map alone is 96 MB, and a screen shows a fraction of its pixels.
    max_side: int = Field(2048, ge=64)


class ThresholdSettings(BaseModel):
    """The decision threshold from good parts only (goldenshot.threshold)."""

    # "predictive": a one-sided Student-t prediction bound on the leave-one-out golden scores at
    # target_fpr, so K good parts set a threshold meant to pass 1 - target_fpr of the next good ones.
    # "max": margin x the highest leave-one-out score (the old rule; its false-alarm rate falls with K).
    rule: Literal["predictive", "max"] = "predictive"
    target_fpr: float = Field(0.02, gt=0.0, lt=0.5)
    margin: float = Field(1.0, ge=0.5)  # "max" rule only
    # A golden sample whose leave-one-out score is this many robust deviations above the others'
    # median is reported as a stray (wrong product, bad photo) and left out of bank and threshold;
    # a wrong-product photo scored 2-3x the others' median in the tests, a merely odd good one 1.3x.
    stray_mads: float = Field(6.0, gt=0.0)
    stray_ratio: float = Field(1.5, ge=1.0)  # ... and at least this times the median
    min_units_for_stray: int = Field(5, ge=3)


class SelfConfigSettings(BaseModel):
    """Per-product choice of configuration, validated on synthetic defects (goldenshot.selfconfig)."""

    enabled: bool = True
    # names from goldenshot.selfconfig.CANDIDATES; the first is the fallback and wins ties. These
    # raised the mean image AUROC over the dev categories against "augment" alone and held up
    # leave-one-category-out (docs/accuracy.md); size_384 costs ~2x inspection time where chosen.
    candidates: tuple[str, ...] = ("augment", "plain", "max", "size_384", "neighbourhood_1")
    defects_per_unit: int = Field(4, ge=1, le=32)
    kinds: tuple[str, ...] = ("cut_paste", "blotch", "scratch", "blur")
    # a candidate replaces the first only with at least this much more separation (AUROC) of
    # held-out goods from synthetic defects: small differences are noise with a few samples
    margin: float = Field(0.0, ge=0.0, le=0.5)


class LimitSettings(BaseModel):
    """Bounds on untrusted input."""

    max_pixels: int = Field(64_000_000, ge=1)  # decompression-bomb guard
    max_bytes: int = Field(64 * 1024 * 1024, ge=1)


class TrainSettings(BaseModel):
    """Stage 1, `goldenshot train-extractor`: SimSiam fine-tuning of the backbone (see goldenshot.training)."""

    epochs: int = Field(1, ge=1)
    batch_size: int = Field(8, ge=2)  # >= 2: the projector's BN needs more than one image
    steps_per_epoch: int | None = Field(None, ge=1)  # None: one pass over the images
    # SimSiam's 0.05 x batch/256 rule; fine-tuning a pretrained trunk wants no more than that.
    base_lr: float = Field(0.05, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    projector_dim: int = Field(256, ge=8)
    predictor_dim: int = Field(64, ge=4)  # bottleneck of the predictor MLP
    # "views": two photometric views of one image, loss per patch. "category": the second view is
    # another image of the same category, loss on spatially pooled features (patches do not correspond).
    pair: Literal["views", "category"] = "views"


class ZeroShotSettings(BaseModel):
    """Zero-shot batch inspection (goldenshot.zeroshot): each step switchable so it can be ablated."""

    # Step 1: patch features averaged over each of these neighbourhood sizes, concatenated; (3,) is
    # exactly the few-shot feature. (1, 3, 5) raised pixel AUROC / AUPRO but cost magnetic tile 0.12
    # image AUROC (the unaveraged size-1 block dominates the distance), so (3,).
    neighbourhoods: tuple[int, ...] = (3,)
    # Step 2: the coreset is built from `init_images` sampled images, then down-sampled again with
    # every `step_images` more; off: one greedy pass over every patch of the batch at once.
    stepwise: bool = True
    init_images: int = Field(16, ge=1)
    step_images: int = Field(16, ge=1)
    # Bank rows; fixed so time grows linearly with the batch, not with its square (all-pairs).
    # 8192 scored +0.02 image AUROC on tiles, +0.01 on ball screw, at about twice the time.
    coreset_size: int = Field(4096, ge=1)
    # Step 3: rounds of vetting the coreset: a row whose distance to the support_fraction x N-th
    # nearest other image exceeds median + drop_mads x MAD (over the rows) is dropped; between
    # rounds the coreset is re-selected from the patches the dropped rows did not cover. 0: off.
    rounds: int = Field(2, ge=0, le=10)
    # A pattern counts as normal if this share of the batch's images holds it (MuSc averages over
    # the closest 30 %); 0.2 scored above 0.05 and 0.1 on both shared categories.
    support_fraction: float = Field(0.2, gt=0.0, le=1.0)
    drop_mads: float = Field(1.0, gt=0.0)
    row_scores: bool = True  # the last round's row scores also weigh on the final patch scores
    # Step 5: blend each image score with the scores of its most similar images (mean patch feature).
    # Off: it helped ball screw and hurt magnetic tile by about as much (docs/zero-shot.md).
    rescore: bool = False
    rescore_neighbours: int = Field(5, ge=1)
    rescore_weight: float = Field(0.5, ge=0.0, le=1.0)
    # Decisions without labels: ANOMALOUS above median + threshold_mads x MAD of the batch's image
    # scores; regions where the map exceeds median + threshold_mads x MAD of the per-image map peaks.
    threshold_mads: float = Field(3.0, gt=0.0)

    @field_validator("neighbourhoods")
    @classmethod
    def _odd_sizes(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if not sizes or any(k < 1 or k % 2 == 0 for k in sizes) or len(set(sizes)) != len(sizes):
            raise ValueError(f"neighbourhoods must be distinct positive odd sizes, got {sizes}")
        return sizes


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/goldenshot, else ~/.cache/goldenshot: exports are rebuilt if it is wiped."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "goldenshot"


class StreamSettings(BaseModel):
    """Fusing each part's few-shot score with its batch's zero-shot score (goldenshot.fusion)."""

    # Share of the zero-shot score in the fused decision; 0 = off. Screened on the dev categories
    # (docs/accuracy.md): 0.25-0.5 raised magnetic tile and circuit board by 0.005-0.02 image AUROC
    # and lowered ball screw by 0.015-0.04 (its defects recur from part to part), so off by default.
    weight: float = Field(0.0, ge=0.0, le=1.0)


class Settings(BaseSettings):
    """The engine's configuration."""

    model_config = SettingsConfigDict(env_prefix="GOLDENSHOT_", env_nested_delimiter="__", extra="ignore")

    backbone: str = "mobilenet_v2"  # or shipped networks together, "mobilenet_v2+efficientnet_lite0" (goldenshot.ensemble)
    weights: Path | None = None  # torchvision-format file for backbones that ship no weights
    taps: tuple[str, str] | None = None  # None: the backbone's own stride-8/16 taps
    projection_dim: int | None = Field(None, ge=1)  # optional random projection of patch features
    threads: int = Field(2, ge=1)
    # "onnx": the backbone runs as the same ONNX export Triton serves, on onnxruntime in-process
    # (MobileNetV2 at 256 px, 1 thread: 3.5 ms against torch's 22.7, docs/distributed.md);
    # "torch": the nn.Module itself (training and the export always use torch)
    runtime: Literal["onnx", "torch"] = "onnx"
    # where ONNX exports are kept, one per backbone + weights sha256 + taps, made on first use
    cache_dir: Path = Field(default_factory=default_cache_dir)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    seed: int = 0
    threshold: ThresholdSettings = ThresholdSettings()
    selfconfig: SelfConfigSettings = SelfConfigSettings()

    preprocess: PreprocessSettings = PreprocessSettings()
    augment: AugmentSettings = AugmentSettings()
    coreset: CoresetSettings = CoresetSettings()
    scoring: ScoringSettings = ScoringSettings()
    maps: MapSettings = MapSettings()
    limits: LimitSettings = LimitSettings()
    train: TrainSettings = TrainSettings()
    zeroshot: ZeroShotSettings = ZeroShotSettings()
    stream: StreamSettings = StreamSettings()
