"""benchmarks/level_gap.py's smooth-field oracle: it takes out a field that varies slowly across the
photo and leaves detail alone, so what it closes is the smooth part of the distance."""

import importlib.util
from pathlib import Path

import numpy as np

from rrgan.metrics import psnr

_spec = importlib.util.spec_from_file_location(
    "level_gap", Path(__file__).resolve().parents[1] / "benchmarks" / "level_gap.py")
level_gap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(level_gap)

rng = np.random.default_rng(0)
TARGET = rng.integers(60, 190, (96, 128, 3)).astype(np.uint8)


def test_smooth_oracle_removes_a_veil():
    veil = np.linspace(0, 50, 128)[None, :, None] * np.ones((96, 1, 3))
    photo = np.clip(TARGET + veil, 0, 255).astype(np.uint8)
    corrected = level_gap.smooth_corrected(photo, TARGET, 0.1)
    assert psnr(corrected, TARGET) > psnr(photo, TARGET) + 15


def test_smooth_oracle_leaves_detail():
    photo = np.clip(TARGET.astype(int) + rng.integers(-20, 21, TARGET.shape), 0, 255).astype(np.uint8)
    corrected = level_gap.smooth_corrected(photo, TARGET, 0.1)
    assert abs(psnr(corrected, TARGET) - psnr(photo, TARGET)) < 0.5
