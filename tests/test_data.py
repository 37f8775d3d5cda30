"""goldenshot.data on the real datasets and on tiny fake BTAD / VisA / MVTec trees."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from goldenshot.data import Category, DatasetError, Sample, discover_categories, list_images, load_category, load_mask, support_set
from goldenshot.images import read_image


def write_image(path: Path, size: tuple[int, int] = (8, 6), value: int = 0) -> Path:
    """A tiny grayscale image of (width, height) `size`; the format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)
    return path


def write_mask(path: Path, size: tuple[int, int], box: tuple[int, int, int, int], value: int = 255) -> Path:
    mask = Image.new("L", size, 0)
    mask.paste(value, box)
    path.parent.mkdir(parents=True, exist_ok=True)
    mask.save(path)
    return path


# --- real datasets ---------------------------------------------------------------------------


def test_magnetic_tile(tile_root: Path) -> None:
    cat = load_category(tile_root)
    assert cat.name == "magnetic_tile" and cat.root == tile_root
    assert len(cat.train) == 762
    assert list(cat.train) == sorted(cat.train)
    counts = Counter(s.label for s in cat.test)
    assert counts == {0: 190, 1: 392}
    assert {s.defect for s in cat.test} == {"good", "blowhole", "break", "crack", "fray", "uneven"}
    assert [(s.defect, s.path.name) for s in cat.test] == sorted((s.defect, s.path.name) for s in cat.test)
    assert all(s.mask is not None and s.mask.is_file() for s in cat.test if s.label)
    assert all(s.mask is None and s.defect == "good" for s in cat.test if not s.label)
    assert not set(cat.train) & {s.path for s in cat.test}


def test_ball_screw(screw_root: Path) -> None:
    cat = load_category(screw_root, fmt="mvtec")
    assert len(cat.train) == 516
    assert Counter(s.defect for s in cat.test) == {"good": 172, "pitting": 167}
    assert all(s.mask is not None for s in cat.test if s.label)


def test_real_mask_matches_image(tile_root: Path, screw_root: Path) -> None:
    for root in (tile_root, screw_root):
        sample = next(s for s in load_category(root).test if s.label)
        image = read_image(sample.path)
        mask = load_mask(sample, image.shape[:2])
        assert mask.dtype == bool and mask.shape == image.shape[:2]
        assert 0 < mask.sum() < mask.size


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize("k", [1, 4, 16])
def test_support_set_contract(tile_root: Path, seed: int, k: int) -> None:
    train = load_category(tile_root).train
    expected = random.Random(seed).sample(sorted(p.name for p in train), k)
    chosen = support_set(train, k, seed)
    assert [p.name for p in chosen] == expected  # same names, same sampled order
    assert all(p in train for p in chosen)


def test_support_set_ignores_input_order(tile_root: Path) -> None:
    train = list(load_category(tile_root).train)
    shuffled = train[:]
    random.Random(5).shuffle(shuffled)
    assert support_set(shuffled, 8, 3) == support_set(train, 8, 3)
    assert support_set(train, 8, 3) != support_set(train, 8, 4)


# --- support_set errors ----------------------------------------------------------------------


def test_support_set_k_too_large(tmp_path: Path) -> None:
    train = [write_image(tmp_path / "good" / f"{i}.png") for i in range(8)]
    with pytest.raises(DatasetError, match=rf"^asked for K=9 golden samples but only 8 images in {tmp_path / 'good'}$"):
        support_set(train, 9, 0)
    assert len(support_set(train, 8, 0)) == 8


@pytest.mark.parametrize("k", [0, -1])
def test_support_set_k_below_one(tmp_path: Path, k: int) -> None:
    with pytest.raises(DatasetError):
        support_set([tmp_path / "a.png"], k, 0)


def test_support_set_duplicate_names(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="same file name"):
        support_set([tmp_path / "a" / "x.png", tmp_path / "b" / "x.png"], 1, 0)


# --- list_images -----------------------------------------------------------------------------


def test_list_images(tmp_path: Path) -> None:
    for name in ["b.PNG", "a.jpg", "c.JPEG", "d.tif", "e.webp", "f.bmp"]:
        write_image(tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.JPEG", "d.tif", "e.webp", "f.bmp"]


def test_list_images_missing_or_empty(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=rf"^{tmp_path / 'nope'}: folder not found$"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match=rf"^{tmp_path / 'empty'}: no images"):
        list_images(tmp_path / "empty")


# --- MVTec / MPDD fake tree ------------------------------------------------------------------


def make_mvtec(root: Path) -> Path:
    for i in range(3):
        write_image(root / "train" / "good" / f"{i:03d}.png")
    write_image(root / "test" / "good" / "000.png")
    write_image(root / "test" / "scratch" / "001.png", (8, 6))
    write_image(root / "test" / "scratch" / "000.png", (8, 6))
    write_mask(root / "ground_truth" / "scratch" / "000_mask.png", (8, 6), (2, 1, 5, 3))
    write_image(root / "test" / "dent" / "000.png")  # a defect type without masks is allowed
    return root


def test_mvtec_fake_tree(tmp_path: Path) -> None:
    cat = load_category(make_mvtec(tmp_path / "bottle"), fmt="mpdd")
    assert isinstance(cat, Category)
    assert [p.name for p in cat.train] == ["000.png", "001.png", "002.png"]
    assert [(s.defect, s.path.name, s.label) for s in cat.test] == [
        ("dent", "000.png", 1),
        ("good", "000.png", 0),
        ("scratch", "000.png", 1),
        ("scratch", "001.png", 1),
    ]
    masks = [s.mask for s in cat.test]
    assert masks[0] is None and masks[1] is None and masks[3] is None
    assert masks[2] == tmp_path / "bottle" / "ground_truth" / "scratch" / "000_mask.png"
    expected = np.zeros((6, 8), bool)
    expected[1:3, 2:5] = True
    np.testing.assert_array_equal(load_mask(cat.test[2], (6, 8)), expected)
    assert not load_mask(cat.test[0], (6, 8)).any()  # defect without a mask


def test_missing_category(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nope"):
        load_category(tmp_path / "nope")
    (tmp_path / "bare").mkdir()
    with pytest.raises(DatasetError, match="train"):
        load_category(tmp_path / "bare")


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_category(make_mvtec(tmp_path / "x"), fmt="coco")  # type: ignore[arg-type]


# --- load_mask -------------------------------------------------------------------------------


def test_load_mask_resizes_nearest(tmp_path: Path) -> None:
    mask = write_mask(tmp_path / "m.png", (8, 6), (0, 0, 4, 6))  # left half
    sample = Sample(tmp_path / "img.png", 1, "scratch", mask)
    out = load_mask(sample, (12, 16))
    assert out.shape == (12, 16) and out.dtype == bool
    assert out[:, :8].all() and not out[:, 8:].any()
    assert load_mask(sample, (3, 4)).tolist() == [[True, True, False, False]] * 3


def test_load_mask_class_index_values(tmp_path: Path) -> None:
    mask = write_mask(tmp_path / "m.png", (4, 4), (0, 0, 2, 2), value=1)  # VisA-style index mask
    assert load_mask(Sample(tmp_path / "i.png", 1, "anomaly", mask), (4, 4)).sum() == 4


def test_load_mask_good_or_missing_is_empty(tmp_path: Path) -> None:
    mask = write_mask(tmp_path / "m.png", (4, 4), (0, 0, 4, 4))
    assert not load_mask(Sample(tmp_path / "i.png", 0, "good", mask), (4, 4)).any()
    assert not load_mask(Sample(tmp_path / "i.png", 1, "x", tmp_path / "gone.png"), (5, 7)).any()
    assert load_mask(Sample(tmp_path / "i.png", 1, "x", None), (5, 7)).shape == (5, 7)


# --- BTAD fake tree --------------------------------------------------------------------------


def make_btad(root: Path) -> Path:
    for i in range(4):
        write_image(root / "train" / "ok" / f"{i:04d}.bmp")
    write_image(root / "test" / "ok" / "0000.bmp")
    write_image(root / "test" / "ko" / "0000.bmp")
    write_image(root / "test" / "ko" / "0001.bmp")
    write_image(root / "test" / "ko" / "0002.bmp")
    write_mask(root / "ground_truth" / "ko" / "0000.png", (8, 6), (0, 0, 2, 2))
    write_mask(root / "ground_truth" / "ko" / "0001.bmp", (8, 6), (0, 0, 2, 2))
    return root


def test_btad_fake_tree(tmp_path: Path) -> None:
    cat = load_category(make_btad(tmp_path / "01"))  # auto-detected from ok/ko
    assert cat.name == "01" and len(cat.train) == 4
    assert [(s.defect, s.label, s.path.name) for s in cat.test] == [
        ("good", 0, "0000.bmp"),
        ("ko", 1, "0000.bmp"),
        ("ko", 1, "0001.bmp"),
        ("ko", 1, "0002.bmp"),
    ]
    assert [s.mask.name if s.mask else None for s in cat.test] == [None, "0000.png", "0001.bmp", None]
    assert load_mask(cat.test[1], (6, 8)).sum() == 4


# --- VisA fake tree --------------------------------------------------------------------------

HEADER = "object,split,label,image,mask\n"


def make_visa(visa: Path) -> Path:
    rows = []
    for obj in ("candle", "pcb1"):
        base = visa / obj / "Data"
        for i in range(3):
            write_image(base / "Images" / "Normal" / f"{i:04d}.JPG")
            rows.append(f"{obj},train,normal,{obj}/Data/Images/Normal/{i:04d}.JPG,")
        write_image(base / "Images" / "Normal" / "0100.JPG")
        rows.append(f"{obj},test,normal,{obj}/Data/Images/Normal/0100.JPG,")
        write_image(base / "Images" / "Anomaly" / "000.JPG")
        write_mask(base / "Masks" / "Anomaly" / "000.png", (8, 6), (0, 0, 3, 3), value=2)
        rows.append(f"{obj},test,anomaly,{obj}/Data/Images/Anomaly/000.JPG,{obj}/Data/Masks/Anomaly/000.png")
    (visa / "split_csv").mkdir(parents=True)
    (visa / "split_csv" / "1cls.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return visa


def test_visa_fake_tree(tmp_path: Path) -> None:
    visa = make_visa(tmp_path / "VisA")
    for fmt in ("auto", "visa"):
        cat = load_category(visa / "candle", fmt=fmt)  # type: ignore[arg-type]
        assert cat.name == "candle"
        assert [p.name for p in cat.train] == ["0000.JPG", "0001.JPG", "0002.JPG"]
        assert all(p.is_relative_to(visa / "candle") for p in cat.train)
        assert [(s.defect, s.label) for s in cat.test] == [("anomaly", 1), ("good", 0)]
        assert cat.test[0].mask == visa / "candle" / "Data" / "Masks" / "Anomaly" / "000.png"
        assert cat.test[1].mask is None
        assert load_mask(cat.test[0], (6, 8)).sum() == 9


def test_visa_explicit_csv(tmp_path: Path) -> None:
    visa = make_visa(tmp_path / "VisA")
    moved = tmp_path / "elsewhere.csv"
    (visa / "split_csv" / "1cls.csv").rename(moved)
    assert load_category(visa / "pcb1", fmt="visa", visa_csv=moved).name == "pcb1"
    with pytest.raises(DatasetError, match="1cls.csv"):
        load_category(visa / "pcb1", fmt="visa")


@pytest.mark.parametrize(
    "entry",
    [
        "candle/../pcb1/Data/Images/Normal/0000.JPG",
        "candle/Data/../../pcb1/Data/Images/Normal/0000.JPG",
        "/etc/passwd",
        "C:/Windows/win.ini",
        "candle\\..\\pcb1\\Data\\Images\\Normal\\0000.JPG",
        "pcb1/Data/Images/Normal/0000.JPG",
        "candle",
    ],
)
def test_visa_csv_escaping_root_rejected(tmp_path: Path, entry: str) -> None:
    visa = make_visa(tmp_path / "VisA")
    with (visa / "split_csv" / "1cls.csv").open("a") as fh:
        fh.write(f'candle,train,normal,"{entry}",\n')
    with pytest.raises(DatasetError, match="is not inside"):
        load_category(visa / "candle", fmt="visa")


def test_visa_mask_escaping_root_rejected(tmp_path: Path) -> None:
    visa = make_visa(tmp_path / "VisA")
    with (visa / "split_csv" / "1cls.csv").open("a") as fh:
        fh.write("candle,test,anomaly,candle/Data/Images/Anomaly/000.JPG,../secret.png\n")
    with pytest.raises(DatasetError, match="is not inside"):
        load_category(visa / "candle", fmt="visa")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("candle,train,anomaly,candle/Data/Images/Anomaly/000.JPG,", "anomalous image"),
        ("candle,val,normal,candle/Data/Images/Normal/0000.JPG,", "unknown split"),
        ("candle,test,weird,candle/Data/Images/Normal/0000.JPG,", "unknown label"),
        ("candle,test,normal,candle/Data/Images/Normal/9999.JPG,", "not found"),
    ],
)
def test_visa_bad_rows(tmp_path: Path, row: str, message: str) -> None:
    visa = make_visa(tmp_path / "VisA")
    with (visa / "split_csv" / "1cls.csv").open("a") as fh:
        fh.write(row + "\n")
    with pytest.raises(DatasetError, match=message):
        load_category(visa / "candle", fmt="visa")


def test_visa_missing_columns_or_object(tmp_path: Path) -> None:
    visa = make_visa(tmp_path / "VisA")
    write_image(visa / "capsules" / "x.png")
    with pytest.raises(DatasetError, match="no rows for object 'capsules'"):
        load_category(visa / "capsules", fmt="visa")
    (visa / "split_csv" / "1cls.csv").write_text("object,split,image\ncandle,train,a.png\n")
    with pytest.raises(DatasetError, match="missing columns label, mask"):
        load_category(visa / "candle", fmt="visa")


def test_every_category_under_a_root_is_found(datasets: Path, tmp_path: Path) -> None:
    found = discover_categories(datasets)
    assert {p.name for p in found} >= {"magnetic_tile", "ball_screw", "pcb20085"}
    assert all((p / "train").is_dir() and (p / "test").is_dir() for p in found)
    assert discover_categories(datasets / "mtd" / "magnetic_tile") == [datasets / "mtd" / "magnetic_tile"]
    (tmp_path / "a" / "b" / "train").mkdir(parents=True)  # no test/: not a category
    with pytest.raises(DatasetError, match="no category"):
        discover_categories(tmp_path)
