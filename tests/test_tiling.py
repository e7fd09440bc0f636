import math

import numpy as np
import pytest

from rrgan.tiling import tile_grid


@pytest.mark.parametrize("tile, overlap", [(512, 64), (96, 24), (64, 16)])
@pytest.mark.parametrize("size", [1, 50, 64, 96, 97, 150, 400, 513, 600, 1024, 4000, 6000])
def test_tiles_cover_the_axis_with_the_fewest_even_tiles(size, tile, overlap):
    starts, length = tile_grid(size, tile, overlap)
    starts, length = starts.numpy(), int(length)
    covered = np.zeros(size, int)
    for start in starts:
        covered[start:start + length] += 1
    assert covered.min() >= 1 and starts[0] == 0 and starts[-1] + length == size
    assert length <= min(tile, size)
    if len(starts) > 1:
        assert np.diff(starts).min() <= length - overlap  # neighbours overlap by at least ``overlap``
        assert covered.max() <= 2  # so the blending ramps of two tiles never meet a third
    fewest = 1 if size <= tile else math.ceil((size - overlap) / (tile - overlap))
    assert len(starts) == fewest
    count = len(starts)
    assert (length - 1) * count < size + (count - 1) * overlap  # shared out: one pixel shorter would not cover


def test_a_megapixel_side_takes_three_tiles_of_384():
    starts, length = tile_grid(1024, 512, 64)
    assert starts.numpy().tolist() == [0, 320, 640] and int(length) == 384
