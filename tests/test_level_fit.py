"""benchmarks/level_fit.py: the field's fit is measured against the identity, so an untrained
Level-net (its field starts at zero) fits no better than the photo, and a field that undoes a
known gain fits the target."""

import importlib.util
import math
from pathlib import Path

import numpy as np

from rrgan.config import preset
from rrgan.models.level_net import build_level_net

_spec = importlib.util.spec_from_file_location(
    "level_fit", Path(__file__).resolve().parents[1] / "benchmarks" / "level_fit.py")
level_fit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(level_fit)

TARGET = np.random.default_rng(0).integers(20, 120, (48, 64, 3)).astype(np.uint8)
PHOTO = (TARGET * 2).astype(np.uint8)  # twice as bright: the field's log-gain to find is log(1/2)


def _level_net():
    return build_level_net(preset("tiny").override(["model.level_net=true"]).model)


def test_untrained_field_fits_as_the_photo_does():
    fit = level_fit.field_fit(_level_net(), PHOTO, TARGET, 32)
    assert math.isclose(fit["field"], fit["identity"], abs_tol=1e-4)
    assert math.isclose(fit["identity_log_ratio"], math.log(2), rel_tol=0.02)


def test_field_that_undoes_the_gain_fits_the_target():
    net = _level_net()
    field = net.get_layer("field")
    kernel, _ = field.get_weights()
    field.set_weights([kernel, np.array([math.log(0.5)] * 3 + [0.0] * 3, np.float32)])
    fit = level_fit.field_fit(net, PHOTO, TARGET, 32)
    assert fit["field"] > fit["identity"] + 20 and fit["field_log_ratio"] < 0.01
