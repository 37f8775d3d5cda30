import pytest
import torch

from goldenshot.features import aggregate, build_extractor, random_projection
from goldenshot.fewshot import fit, golden_samples
from goldenshot.images import read_image
from goldenshot.inspector import Inspector
from goldenshot.settings import Settings


def test_aggregate_averages_neighbourhoods_and_aligns_grids():
    fine = torch.zeros(1, 2, 8, 8)
    fine[0, 0, 4, 4] = 9.0  # a single hot cell spreads to its 3x3 neighbourhood as 1.0
    coarse = torch.arange(16.0).view(1, 1, 4, 4)
    out = aggregate([fine, coarse])
    assert out.shape == (1, 3, 8, 8)
    assert torch.allclose(out[0, 0, 3:6, 3:6], torch.ones(3, 3)) and out[0, 0, 2, 2] == 0
    assert out[0, 0, 0, 0] == 0 and out[0, 1].abs().max() == 0
    assert out[0, 2, 0, 0] < out[0, 2, 7, 7]  # the coarse ramp survives upsampling


def test_random_projection_is_seeded():
    assert torch.equal(random_projection(128, 32, 3), random_projection(128, 32, 3))
    assert not torch.equal(random_projection(128, 32, 3), random_projection(128, 32, 4))


def test_projected_fingerprint_round_trips(tmp_path, tile_root):
    settings = Settings(projection_dim=48)
    extractor = build_extractor(settings)
    images = sorted((tile_root / "train" / "good").iterdir())[:2]
    batch = extractor(extractor.tensor(read_image(images[0]))[None])
    assert batch.shape[-1] == 48 == extractor.feature_dim
    fingerprint = fit(golden_samples(images, settings), extractor, settings)
    assert fingerprint.bank.shape[1] == 48
    fingerprint.save(tmp_path / "fp")
    loaded = Inspector.load(tmp_path / "fp")
    test = read_image(sorted((tile_root / "test" / "good").iterdir())[0])
    assert loaded.score(test)[0] == Inspector(extractor, fingerprint).score(test)[0]


def test_aggregate_neighbourhood_sizes():
    fine = torch.zeros(1, 1, 9, 9)
    fine[0, 0, 4, 4] = 25.0
    assert torch.equal(aggregate([fine], 1), fine)  # a patch alone
    five = aggregate([fine], 5)
    assert torch.allclose(five[0, 0, 2:7, 2:7], torch.ones(5, 5)) and five[0, 0, 1, 4] == 0
    for bad in (0, 2, -3):
        with pytest.raises(ValueError, match="odd"):
            aggregate([fine], bad)


def test_patches_concatenate_neighbourhoods_and_default_to_the_few_shot_feature(tile_root):
    settings = Settings(projection_dim=48)  # the projection applies to each neighbourhood's block
    extractor = build_extractor(settings)
    image = extractor.tensor(read_image(sorted((tile_root / "test" / "good").iterdir())[0]))[None]
    taps = extractor.taps(image)
    assert torch.equal(extractor.patches(taps), extractor(image))
    multi = extractor.patches(taps, (1, 3))
    assert multi.shape[-1] == 96 and torch.equal(multi[..., 48:], extractor(image))
    assert torch.allclose(multi[..., :48], aggregate(taps, 1).permute(0, 2, 3, 1) @ extractor.projection)


def test_neighbourhood_one_keeps_each_patch_alone_and_travels_with_the_fingerprint(tmp_path, tile_root):
    """preprocess.neighbourhood decides the averaging; a fingerprint fitted with 1 inspects with 1 after loading."""
    settings = Settings(preprocess={"neighbourhood": 1}, selfconfig={"enabled": False})
    extractor = build_extractor(settings)
    images = sorted((tile_root / "train" / "good").iterdir())[:2]
    batch = extractor.tensor(read_image(images[0]))[None]
    maps = extractor.taps(batch)
    assert torch.equal(extractor(batch), aggregate(maps, 1).permute(0, 2, 3, 1))
    assert not torch.allclose(extractor(batch), build_extractor(Settings())(batch))
    fingerprint = fit(golden_samples(images, settings), extractor, settings)
    fingerprint.save(tmp_path / "fp")
    loaded = Inspector.load(tmp_path / "fp")
    assert loaded.extractor.preprocess.neighbourhood == 1
    test = read_image(sorted((tile_root / "test" / "good").iterdir())[0])
    assert loaded.score(test)[0] == Inspector(extractor, fingerprint).score(test)[0]
    with pytest.raises(ValueError, match="odd"):
        Settings(preprocess={"neighbourhood": 2})
