import numpy as np
import pytest

from goldenshot.preprocess import STRIDE, to_tensor, working_size
from goldenshot.settings import PreprocessSettings


@pytest.mark.parametrize("h,w", [(460, 1130), (256, 256), (403, 103), (1, 100000), (5000, 3)])
def test_working_size_keeps_aspect_and_budget(h, w):
    H, W = working_size(h, w, PreprocessSettings(size=256, keep_aspect=True))
    assert H % STRIDE == 0 and W % STRIDE == 0 and H >= 2 * STRIDE and W >= 2 * STRIDE
    assert 0.6 < H * W / 256**2 < 1.6  # same pixel budget whatever the shape
    if 1 / 4 < w / h < 4:
        assert abs(np.log((W / H) / (w / h))) < 0.15


def test_square_mode_squashes():
    assert working_size(460, 1130, PreprocessSettings(size=224, keep_aspect=False)) == (224, 224)


def test_to_tensor_range_and_layout():
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, :40, 0] = 255
    t = to_tensor(image, (32, 64))
    assert t.shape == (3, 32, 64) and t.min() >= 0 and t.max() <= 1
    assert t[0, :, :30].mean() > 0.99 and t[0, :, 34:].mean() < 0.01 and t[1].max() == 0
