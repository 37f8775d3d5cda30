"""Dataset folders -> the good training images and the labelled test samples of one category.

The engine only needs "which images are good golden candidates" and "which test images are
defective, with which mask"; this module maps the public benchmark layouts onto that:

- MVTec AD / MPDD: train/good, test/<defect>, ground_truth/<defect>/<stem>_mask.png
- BTAD: train/ok, test/ok, test/ko, ground_truth/ko/<stem>.png (or .bmp); the defect type is "ko"
- VisA: <visa_root>/split_csv/1cls.csv (object,split,label,image,mask; paths relative to
  visa_root), loaded as load_category(visa_root / "<object>", fmt="visa"); anomalies have no
  type in that CSV, so their defect is "anomaly".

Support sets are drawn by file name, not path, so the same seed picks the same golden samples
wherever the dataset is mounted.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

import cv2
import numpy as np

from goldenshot.images import IMAGE_SUFFIXES, read_image

Format = Literal["auto", "mvtec", "mpdd", "btad", "visa"]
_VISA_COLUMNS = ("object", "split", "label", "image", "mask")
_VISA_LABELS = {"normal": 0, "anomaly": 1}


@dataclass(frozen=True)
class Sample:
    """One test image: label 0 good / 1 defective, its defect type, its mask (None when absent)."""

    path: Path
    label: int
    defect: str
    mask: Path | None


@dataclass(frozen=True)
class Category:
    """One object category: sorted good training images and the test samples (by defect, then name)."""

    name: str
    root: Path
    train: tuple[Path, ...]
    test: tuple[Sample, ...]


class DatasetError(ValueError):
    """A dataset folder or split file that cannot be used as asked; the message names it."""


def list_images(folder: Path) -> list[Path]:
    """Image files of a folder, sorted by name; a missing or image-less folder is an error.

    Hidden files are skipped: macOS copies leave '._name.png' resource forks that are not images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    images = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    images = [p for p in images if p.is_file()]
    if not images:
        raise DatasetError(f"{folder}: no images ({' '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def discover_categories(root: Path) -> list[Path]:
    """Every category folder under root (itself, or up to two levels down), sorted by path.

    A category is a folder with train/ and test/ (MVTec, MPDD, BTAD layouts), so `make eval`
    covers whatever dev data is mounted instead of a hard-coded list.
    """
    root = Path(root)
    found = [d for d in (root, *root.glob("*"), *root.glob("*/*")) if (d / "train").is_dir() and (d / "test").is_dir()]
    if not found:
        raise DatasetError(f"{root}: no category folders (with train/ and test/) found")
    return sorted(found)


def support_set(train: Sequence[Path], k: int, seed: int) -> list[Path]:
    """The K golden samples for a seed: random.Random(seed).sample over the sorted file names.

    Sampling names (not paths or indices) keeps the choice reproducible across machines and
    mount points, and lets anyone recompute it from a file listing.
    """
    if k < 1:
        raise DatasetError(f"K must be at least 1 (got {k})")
    by_name = {p.name: p for p in train}
    if len(by_name) != len(train):
        raise DatasetError("training images with the same file name: support sets are drawn by name")
    if k > len(by_name):
        where = os.path.commonpath([str(p.parent) for p in train]) if train else "the training set"
        raise DatasetError(f"asked for K={k} golden samples but only {len(by_name)} images in {where}")
    return [by_name[name] for name in random.Random(seed).sample(sorted(by_name), k)]


def load_mask(sample: Sample, shape: tuple[int, int]) -> np.ndarray:
    """Boolean HxW defect mask at `shape` (H, W); all False for good samples or a missing mask.

    Any non-zero pixel is defect: VisA stores class indices (1, 2, ...), MVTec 255.
    """
    height, width = shape
    if height < 1 or width < 1:
        raise ValueError(f"mask shape must be positive (got {shape})")
    if sample.label == 0 or sample.mask is None or not sample.mask.is_file():
        return np.zeros((height, width), dtype=bool)
    mask = read_image(sample.mask).max(axis=2)
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return mask > 0


def load_category(root: Path, fmt: Format = "auto", visa_csv: Path | None = None) -> Category:
    """Load one category folder; "auto" tells BTAD (ok/ko), VisA (a split CSV row) and MVTec/MPDD apart.

    For VisA, root is <visa_root>/<object> and the CSV defaults to <visa_root>/split_csv/1cls.csv.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: category folder not found")
    csv_path = Path(visa_csv) if visa_csv is not None else root.parent / "split_csv" / "1cls.csv"
    if fmt == "auto":
        fmt = _detect(root, csv_path)
    if fmt in ("mvtec", "mpdd"):
        return _load_mvtec(root)
    if fmt == "btad":
        return _load_btad(root)
    if fmt == "visa":
        return _load_visa(root, csv_path)
    raise DatasetError(f"{root}: unknown dataset format {fmt!r}")


def _detect(root: Path, csv_path: Path) -> Format:
    if (root / "train" / "ok").is_dir() or (root / "test" / "ko").is_dir():
        return "btad"
    if csv_path.is_file() and _visa_rows(root, csv_path, required=False):
        return "visa"
    return "mvtec"


def _load_mvtec(root: Path) -> Category:
    train = list_images(root / "train" / "good")
    test_dir = root / "test"
    if not test_dir.is_dir():
        raise DatasetError(f"{test_dir}: folder not found")
    samples = []
    for folder in sorted(p for p in test_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        defect = folder.name
        for path in list_images(folder):
            mask = root / "ground_truth" / defect / f"{path.stem}_mask.png"
            good = defect == "good"
            samples.append(Sample(path, 0 if good else 1, defect, None if good or not mask.is_file() else mask))
    return _category(root, train, samples)


def _load_btad(root: Path) -> Category:
    train = list_images(root / "train" / "ok")
    samples = [Sample(p, 0, "good", None) for p in list_images(root / "test" / "ok")]
    for path in list_images(root / "test" / "ko"):
        masks = (root / "ground_truth" / "ko" / f"{path.stem}{ext}" for ext in (".png", ".bmp"))
        samples.append(Sample(path, 1, "ko", next((m for m in masks if m.is_file()), None)))
    return _category(root, train, samples)


def _load_visa(root: Path, csv_path: Path) -> Category:
    train: list[Path] = []
    samples: list[Sample] = []
    for row in _visa_rows(root, csv_path, required=True):
        label = _VISA_LABELS.get(row["label"].strip().lower())
        if label is None:
            raise DatasetError(f"{csv_path}: unknown label {row['label']!r} (expected normal or anomaly)")
        image = _inside(root, row["image"], csv_path)
        if not image.is_file():
            raise DatasetError(f"{csv_path}: image {image} not found")
        split = row["split"].strip().lower()
        if split == "train":
            if label:
                raise DatasetError(f"{csv_path}: anomalous image {image} in the train split")
            train.append(image)
        elif split == "test":
            mask = _inside(root, row["mask"], csv_path) if label and row["mask"].strip() else None
            mask = mask if mask is not None and mask.is_file() else None
            samples.append(Sample(image, label, "anomaly" if label else "good", mask))
        else:
            raise DatasetError(f"{csv_path}: unknown split {row['split']!r} (expected train or test)")
    if not train:
        raise DatasetError(f"{csv_path}: no train images for {root.name}")
    return _category(root, sorted(train), samples)


def _visa_rows(root: Path, csv_path: Path, required: bool) -> list[dict[str, str]]:
    """The CSV rows of this object (root's name); `required` turns "none" into an error."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in _VISA_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise DatasetError(f"{csv_path}: missing columns {', '.join(missing)}")
            rows = [row for row in reader if (row["object"] or "").strip() == root.name]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: cannot read split CSV ({exc})") from None
    if required and not rows:
        raise DatasetError(f"{csv_path}: no rows for object {root.name!r}")
    return [{k: v or "" for k, v in row.items() if k in _VISA_COLUMNS} for row in rows]


def _inside(root: Path, entry: str, csv_path: Path) -> Path:
    """Resolve a CSV path (relative to root's parent) that must stay inside root.

    The check is lexical: absolute paths, drive letters, backslashes and '..' are refused, and the
    first component must be the object's folder, so a hostile CSV cannot point anywhere else.
    """
    entry = entry.strip()
    rel = PurePosixPath(entry)
    if (
        not entry
        or "\\" in entry
        or rel.is_absolute()
        or PureWindowsPath(entry).drive
        or ".." in rel.parts
        or len(rel.parts) < 2
        or rel.parts[0] != root.name
    ):
        raise DatasetError(f"{csv_path}: path {entry!r} is not inside {root}")
    return root.joinpath(*rel.parts[1:])


def _category(root: Path, train: list[Path], samples: list[Sample]) -> Category:
    if not samples:
        raise DatasetError(f"{root}: no test images")
    samples.sort(key=lambda s: (s.defect, s.path.name))
    return Category(root.name, root, tuple(train), tuple(samples))
