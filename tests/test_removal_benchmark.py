"""benchmarks/removal.py: crops of the held-out photos only, blended as training blends them, and a
level-free score that a change of level alone does not move."""

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_image

from rrgan.config import preset
from rrgan.data.pipeline import held_out, holdout_crops
from rrgan.errors import RRGANError

_spec = importlib.util.spec_from_file_location(
    "removal", Path(__file__).resolve().parents[1] / "benchmarks" / "removal.py")
removal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(removal)

HOLDOUT = 0.5


def _data(**changes):
    return dataclasses.replace(preset("tiny").data, crop_size=16, shuffle_buffer=8, photo_holdout=HOLDOUT, **changes)


@pytest.fixture
def photos(tmp_path):
    """Held-out photos are green, the others red: a crop's target tells which it came from."""
    names = [f"photo{i:02d}" for i in range(24)]
    kept_out = held_out(tf.constant(names), HOLDOUT).numpy()
    assert 0 < kept_out.sum() < len(names)
    rng = np.random.default_rng(0)
    for name, out in zip(names, kept_out):
        image = np.zeros((24, 24, 3), np.uint8)
        image[..., 1 if out else 0] = rng.integers(100, 200, (24, 24))
        write_image(tmp_path / f"{name}.png", image)
    return tmp_path


def test_crops_come_from_the_held_out_photos_with_a_reflection(photos):
    batch = next(iter(holdout_crops([photos], _data()).batch(16)))
    targets, images = batch["target"].numpy(), batch["input"].numpy()
    assert targets.shape == (16, 16, 16, 3)
    assert (targets[..., 1].mean(axis=(1, 2)) > 0.2).all() and (targets[..., 0] == 0).all()
    assert all(not np.allclose(image, target) for image, target in zip(images, targets))


def test_no_held_out_photos_is_refused(photos):
    with pytest.raises(RRGANError, match="photo_holdout is 0"):
        holdout_crops([photos], dataclasses.replace(_data(), photo_holdout=0.0))


def test_level_free_score_is_blind_to_the_level_and_sees_removal(photos):
    batches = list(holdout_crops([photos], _data()).batch(8).take(2))
    psnr_in, psnr_out, free_in, free_out = removal.removal_scores(lambda images: images, batches).T
    assert len(psnr_in) == 16 and np.array_equal(psnr_in, psnr_out) and np.array_equal(free_in, free_out)

    psnr_in, psnr_out, free_in, free_out = removal.removal_scores(lambda images: 0.7 * images, batches).T
    assert np.abs(psnr_out - psnr_in).mean() > 1.0  # the level moved the PSNR
    assert np.abs(free_out - free_in).max() < 0.5  # but not the level-free PSNR

    targets = iter(batch["target"] for batch in batches)
    psnr_in, psnr_out, free_in, free_out = removal.removal_scores(lambda images: next(targets), batches).T
    assert np.isinf(free_out).all() and np.isfinite(free_in).all()
