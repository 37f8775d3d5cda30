"""Fit and inspect on the real magnetic-tile images, with the real ImageNet backbone."""

import numpy as np
import pytest
import torch
from PIL import Image

from goldenshot.bank import GoldenSample, build_bank, support_units
from goldenshot.data import load_category, load_mask, support_set
from goldenshot.features import FeatureExtractor, build_extractor
from goldenshot.fewshot import FitError, fit, golden_samples
from goldenshot.fingerprint import Fingerprint, FingerprintError
from goldenshot.images import image_sha256, read_image
from goldenshot.inspector import ANOMALOUS, OK, Inspector
from goldenshot.selfconfig import CANDIDATES
from goldenshot.preprocess import working_size
from goldenshot.settings import AugmentSettings, PreprocessSettings, Settings
from goldenshot.threshold import good_threshold

AUGMENT_OFF = dict(grayscale=False, hflip=False, vflip=False, translate=0.0, rotate=0.0, brightness=0.0, contrast=0.0)


@pytest.fixture(scope="module")
def settings():
    return Settings()


@pytest.fixture(scope="module")
def extractor(settings):
    return build_extractor(settings)


@pytest.fixture(scope="module")
def tile(tile_root):
    return load_category(tile_root)


@pytest.fixture(scope="module")
def fingerprint(tile, extractor, settings):
    return fit(golden_samples(support_set(tile.train, 4, 0), settings), extractor, settings)


def test_threshold_sits_above_every_leave_one_out_golden_score(fingerprint, tile, settings):
    meta = fingerprint.meta
    assert len(meta.golden.scores) == 4 and meta.threshold_source == "leave-one-out"
    assert meta.threshold == pytest.approx(good_threshold(meta.golden.scores, settings.threshold))
    assert meta.threshold >= max(meta.golden.scores) and meta.target_fpr == settings.threshold.target_fpr
    assert meta.pixel_threshold > 0
    support = support_set(tile.train, 4, 0)
    assert [s.name for s in meta.sources] == [p.name for p in support]
    assert meta.sources[0].sha256 == image_sha256(support[0].read_bytes())
    assert meta.coreset_rows == fingerprint.bank.shape[0] < meta.patches_seen


def test_fit_is_deterministic(tile, extractor, settings, fingerprint):
    again = fit(golden_samples(support_set(tile.train, 4, 0), settings), extractor, settings)
    assert torch.equal(again.bank, fingerprint.bank) and again.meta.threshold == fingerprint.meta.threshold


def test_defects_score_above_good_parts(tile, extractor, fingerprint, settings):
    inspector = Inspector(extractor, fingerprint)
    good = [s for s in tile.test if s.label == 0][:8]
    bad = [s for s in tile.test if s.defect in ("break", "fray")][:8]
    good_scores = [inspector.score(read_image(s.path))[0] for s in good]
    bad_scores = [inspector.score(read_image(s.path))[0] for s in bad]
    assert np.mean(bad_scores) > np.mean(good_scores)
    assert np.median(bad_scores) > np.max(good_scores) * 0.9


def test_inspection_finds_regions_where_the_defect_is(tile, extractor, fingerprint):
    inspector = Inspector(extractor, fingerprint)
    breaks = [s for s in tile.test if s.defect in ("break", "fray")][:12]
    results = [(s, inspector.inspect(read_image(s.path))) for s in breaks]
    sample, result = max(results, key=lambda r: r[1].score)
    assert result.decision == ANOMALOUS and result.regions
    assert set(result.timings_ms) == {"resize", "features", "knn", "map", "regions", "explain"}  # explain: regions found
    assert result.score_map.shape == read_image(sample.path).shape[:2]
    mask = load_mask(sample, result.score_map.shape)
    top = result.regions[0]  # the region with the highest peak overlaps the true defect
    assert mask[top.y : top.y + top.height, top.x : top.x + top.width].any()


def test_a_repeated_golden_image_is_used_once(tile, extractor, settings, fingerprint):
    support = support_set(tile.train, 4, 0)
    doubled = fit(golden_samples(support + support[:2], settings), extractor, settings)
    assert [s.name for s in doubled.meta.sources] == [p.name for p in support]
    assert doubled.meta.threshold == fingerprint.meta.threshold  # not collapsed by a zero-distance twin


def test_saved_fingerprint_scores_exactly_like_the_fitted_one(tmp_path, tile, extractor, fingerprint):
    fingerprint.save(tmp_path / "fp.safetensors")
    loaded = Inspector.load(tmp_path / "fp.safetensors")
    image = read_image(tile.test[0].path)
    assert loaded.score(image)[0] == pytest.approx(Inspector(extractor, fingerprint).score(image)[0], rel=1e-6)


def test_one_golden_sample_is_split_into_quadrants(tile, extractor, settings):
    one = golden_samples(support_set(tile.train, 1, 0), settings)
    fp = fit(one, extractor, settings)
    # four looks at one part: one draw for the threshold, whose width then comes from the prior alone
    assert len(fp.meta.golden.scores) == 4 and fp.meta.threshold == pytest.approx(good_threshold(fp.meta.golden.scores, settings.threshold, one_part=True))
    bare = fit(one, extractor, settings.model_copy(update={"augment": AugmentSettings(enabled=False)}))
    assert len(bare.meta.golden.scores) == 4 and bare.meta.threshold > 0
    tiny = settings.model_copy(update={"coreset": settings.coreset.model_copy(update={"size": 1})})
    with pytest.raises(FitError, match="threshold"):
        fit(one, extractor, tiny)  # one bank row comes from one quadrant: nothing left out
    user = fit(one, extractor, tiny, threshold=3.0)
    assert user.meta.threshold_source == "user" and user.meta.golden.mean is None
    with pytest.raises(FitError):
        fit([], extractor, settings)


def test_a_held_out_quadrant_is_held_out_of_every_flipped_view(extractor, settings):
    """With one sample, a quadrant held out must be missing from the bank in every view: a flipped view
    shows it elsewhere on its grid. A mark found only in the top-left quadrant then scores as high held
    out with flipped views in the bank as without them."""
    rng = np.random.default_rng(0)
    image = (96 + rng.integers(0, 32, (256, 256, 3))).astype(np.uint8)
    image[24:104:16, 24:104] = 255  # stripes, top-left quadrant only
    sample = [GoldenSample("one.png", "0" * 64, image)]
    flips = AugmentSettings(**{**AUGMENT_OFF, "hflip": True, "vflip": True}, copies=8)
    scores = {}
    for name, augment in (("flipped", flips), ("plain", AugmentSettings(enabled=False))):
        tuned = settings.model_copy(update={"augment": augment, "selfconfig": settings.selfconfig.model_copy(update={"enabled": False})})
        units = support_units(sample, FeatureExtractor(extractor.backbone, tuned.preprocess, extractor.projection), tuned, lambda *_: None)
        scores[name] = build_bank(units, tuned, lambda *_: None).scores
    assert scores["plain"][0] > 1.5 * max(scores["plain"][1:])
    assert scores["flipped"][0] > 0.9 * scores["plain"][0]


def test_fingerprint_from_another_backbone_is_refused(fingerprint, settings):
    other = build_extractor(settings.model_copy(update={"backbone": "efficientnet_lite0"}))
    with pytest.raises(FingerprintError, match="mobilenet_v2"):
        Inspector(other, fingerprint)


def test_self_configuration_validates_every_candidate_and_keeps_the_best(tile, extractor, settings):
    support = golden_samples(support_set(tile.train, 4, 0), settings)
    names = ("augment", "plain", "max")
    chosen = settings.model_copy(update={"selfconfig": settings.selfconfig.model_copy(update={"candidates": names})})
    report = fit(support, extractor, chosen).meta.selfconfig
    assert set(report.auroc) == set(names) and report.defects == 4 * settings.selfconfig.defects_per_unit
    assert report.auroc[report.chosen] == max(report.auroc.values()) and 0.0 <= report.detected <= 1.0
    # held-out goods and synthetic defects on real tiles separate far better than chance
    assert report.auroc["augment"] > 0.75
    stubborn = chosen.model_copy(update={"selfconfig": chosen.selfconfig.model_copy(update={"margin": 0.5})})
    fixed = fit(support, extractor, stubborn)
    assert fixed.meta.selfconfig.chosen == "augment"  # nothing beats the fallback by half an AUROC
    plain = CANDIDATES["plain"](settings)
    assert not plain.augment.enabled and plain.preprocess == settings.preprocess


def test_a_stray_golden_sample_is_named_and_left_out_of_bank_and_threshold(tile, extractor, settings, datasets):
    settings = settings.model_copy(update={"selfconfig": settings.selfconfig.model_copy(update={"enabled": False})})
    board = load_category(datasets / "deeppcb" / "pcb20085").train[0]
    support = support_set(tile.train, 6, 0)
    clean = fit(golden_samples(support, settings), extractor, settings)
    mixed = fit(golden_samples(support + [board], settings), extractor, settings)
    assert [s.name for s in mixed.meta.strays] == [board.name] and clean.meta.strays == []
    assert mixed.meta.strays[0].score > 2 * max(mixed.meta.golden.scores)
    assert len(mixed.meta.golden.scores) == 6 and mixed.meta.threshold < 1.5 * clean.meta.threshold


def test_strays_and_the_distance_scale_are_judged_on_the_knn_part(tile, extractor, settings):
    """The residual, held out, is large for any sample whose own texture the others lack, so with it in
    the score the stray rule and the kinds' scale read the kNN part: the bank and that part are the
    kNN-only fit's, to the digit."""
    fixed = settings.model_copy(update={"selfconfig": settings.selfconfig.model_copy(update={"enabled": False})})
    samples = golden_samples(sorted(tile.train)[:8], fixed)
    both = fit(samples, extractor, fixed)
    alone = fit(samples, extractor, fixed.model_copy(update={"scoring": fixed.scoring.model_copy(update={"patch_score": "knn"})}))
    assert both.meta.scoring.patch_score == "knn+subspace" and torch.equal(both.bank, alone.bank)
    assert both.meta.golden.distances == pytest.approx(alone.meta.golden.scores) == alone.meta.golden.distances
    assert all(s > d for s, d in zip(both.meta.golden.scores, both.meta.golden.distances))
    assert both.meta.distance_threshold == pytest.approx(alone.meta.threshold) and alone.meta.threshold < both.meta.threshold
    assert [s.name for s in both.meta.strays] == [s.name for s in alone.meta.strays]


def test_decisions_and_regions_agree(tile, extractor, fingerprint):
    inspector = Inspector(extractor, fingerprint)
    samples = [s for s in tile.test if s.label == 0][:6] + [s for s in tile.test if s.label == 1][::40]
    results = [inspector.inspect(read_image(s.path)) for s in samples]
    assert {r.decision for r in results} == {OK, ANOMALOUS}
    for r in results:
        assert (len(r.regions) > 0) == (r.decision == ANOMALOUS)


def test_a_large_photo_decodes_near_the_working_size_and_reports_in_its_pixels(tile, extractor, fingerprint):
    """A defect photographed at 6000x4500: decoded at a quarter of that, the map bounded by maps.max_side,
    regions in the photo's own pixels where the full-size decode puts them."""
    import io

    import cv2
    from PIL import Image

    inspector = Inspector(extractor, fingerprint)
    sample = max((s for s in tile.test if s.defect == "break"), key=lambda s: inspector.score(read_image(s.path))[0])
    small = read_image(sample.path)
    buf = io.BytesIO()
    Image.fromarray(cv2.resize(small, (6000, 4500), interpolation=cv2.INTER_CUBIC)).save(buf, "JPEG", quality=95)
    image, size = inspector.decode(buf.getvalue(), "big.jpg")
    assert size == (4500, 6000) and max(image.shape[:2]) <= 6000 // 4
    result = inspector.inspect(image, size)
    assert result.size == (4500, 6000) and result.score_map.shape == (1536, 2048)  # maps.max_side
    full = inspector.inspect(read_image(sample.path))  # the same part at its own size
    assert result.score == pytest.approx(full.score, rel=0.05) and result.decision == full.decision == ANOMALOUS
    top, expected = result.regions[0], full.regions[0]
    scale = 6000 / small.shape[1]
    assert top.x + top.width <= 6000 and top.y + top.height <= 4500
    assert abs((top.x + top.width / 2) - scale * (expected.x + expected.width / 2)) < 0.05 * 6000
    assert abs((top.y + top.height / 2) - scale * (expected.y + expected.height / 2)) < 0.05 * 4500


def test_golden_samples_decode_near_the_largest_working_size_a_candidate_may_use(tmp_path):
    # a 26 MP golden photo is not held at full size through the fit, and no candidate gets less than it uses
    y, x = np.mgrid[0:4200, 0:6300]
    rgb = np.stack([x % 251, y % 241, (x + y) % 239], axis=2).astype(np.uint8)
    path = tmp_path / "big.jpg"
    Image.fromarray(rgb).save(path, quality=90)
    with_384 = Settings()
    assert "size_384" in with_384.selfconfig.candidates
    plain = Settings(selfconfig={"enabled": False})
    [big] = golden_samples([path], with_384)
    [small] = golden_samples([path], plain)
    for sample, side in ((big, 384), (small, 256)):
        height, width = sample.image.shape[:2]
        target = working_size(4200, 6300, PreprocessSettings(size=side))
        assert 2 * target[0] <= height <= 4200 // 2 and 2 * target[1] <= width <= 6300 // 2
    assert big.image.shape[0] > small.image.shape[0]
    assert big.sha256 == image_sha256(path.read_bytes())
