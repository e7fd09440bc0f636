"""The presence stage's direct fit: the rows it reads, the head it fits, the odds it sets."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_presence_sources

from rrgan.config import preset
from rrgan.data.pipeline import collect_sources, held_out
from rrgan.errors import RRGANError
from rrgan.models import build_networks
from rrgan.models.presence_net import presence_head
from rrgan.training.presence_fit import (
    PresenceRows,
    calibrated_odds,
    calibration_photos,
    fit_head,
    group_weights,
    photo_darkening,
    set_head,
    training_rows,
)

TINY_PRESENCE = preset("tiny").override(["model.level_net=true", "model.presence_net=true",
                                         "data.photo_holdout=0.1"])


def _rows(rng, count: int, shift: np.ndarray, label: float, group: str) -> PresenceRows:
    return PresenceRows(rng.normal(size=(count, len(shift))) + shift, np.full(count, label), np.full(count, group))


def _joined(*parts: PresenceRows) -> PresenceRows:
    return PresenceRows(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("features", "has_reflection",
                                                                                       "group")))


def test_each_set_weighs_the_same_within_its_class():
    rng = np.random.default_rng(0)
    rows = _joined(_rows(rng, 90, np.zeros(2), 1.0, "big"), _rows(rng, 10, np.zeros(2), 1.0, "small"),
                   _rows(rng, 40, np.zeros(2), 0.0, "photos"))
    weight = group_weights(rows)
    for group, total in (("big", 0.25), ("small", 0.25), ("photos", 0.5)):
        np.testing.assert_allclose(weight[rows.group == group].sum(), total)


def test_a_small_set_of_reflections_is_learned_as_well_as_a_large_one():
    """Weighted by set, the 10 reflections that differ on feature 1 count as much as the 300 that
    differ on feature 0: the head judges both kinds to hold a reflection and the clean rows not."""
    rng = np.random.default_rng(1)
    rows = _joined(_rows(rng, 300, np.array([3.0, 0.0, 0.0]), 1.0, "big"),
                   _rows(rng, 10, np.array([0.0, 3.0, 0.0]), 1.0, "small"),
                   _rows(rng, 300, np.zeros(3), 0.0, "photos"))
    kernel, bias = fit_head(rows)
    logits = rows.features @ kernel + bias
    for group, sign in (("big", 1), ("small", 1), ("photos", -1)):
        assert sign * np.median(logits[rows.group == group]) > 1.0, group


def test_the_odds_make_the_photos_come_back_as_dark_as_asked():
    rng = np.random.default_rng(2)
    logits, darkening = rng.normal(0, 2, 200), rng.uniform(0.0, 0.1, 200)
    odds = calibrated_odds(logits, darkening, darker=0.02)
    shares = 1 / (1 + np.exp(-(logits + np.log(odds))))
    assert abs(np.mean(shares * darkening) - 0.02) < 5e-4
    assert calibrated_odds(logits, darkening, darker=0.01) < odds  # less darkening: a stricter gate


def test_the_fitted_head_is_what_the_presence_net_computes(tmp_path):
    """Rows from real pairs and photos (the run's sources, as training splits them), a head fitted on
    them and set in the Presence-net, and the odds from the held-out photos: the net's logit of a
    photo is the fitted head on that photo's row."""
    networks = build_networks(TINY_PRESENCE.model)
    pairs, photos = write_presence_sources(tmp_path)
    data = TINY_PRESENCE.data
    sources = collect_sources(pairs, photos)
    rows = training_rows(networks, sources, data)
    assert set(rows.group) == {"glass", "glass targets", "photos"}
    assert rows.has_reflection[rows.group == "glass"].all() and not rows.has_reflection[rows.group != "glass"].any()
    kernel, bias = fit_head(rows)
    set_head(networks, kernel, bias)
    head = presence_head(networks.presence_net)
    np.testing.assert_allclose(head.get_layer("presence_logit").get_weights()[0][:, 0], kernel, rtol=1e-6)

    calibration = list(calibration_photos(sources, data))
    names = [f"photo{i}" for i in range(40)]
    assert len(calibration) == int(held_out(tf.constant(names), data.photo_holdout / 2).numpy().sum())
    logits, darkening = photo_darkening(networks, calibration_photos(sources, data))
    assert np.isfinite(logits).all() and np.isfinite(darkening).all() and len(logits) == len(calibration)


def test_the_odds_are_set_on_the_same_views_whatever_the_generator_trained_on(tmp_path):
    """The fine-tune's windows (reflections seen as whole scenes, smaller than the check's views)
    ride along in the reproduction's presence stage: the calibration views stay the check's."""
    pairs, photos = write_presence_sources(tmp_path)
    sources = collect_sources(pairs, photos)
    plain = [view.numpy() for view in calibration_photos(sources, TINY_PRESENCE.data)]
    windowed = TINY_PRESENCE.override(["data.crop_size=16", "data.reflection_view_short_side=16,24",
                                       "data.view_short_side=20,30"]).data
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(plain, calibration_photos(sources, windowed), strict=True))


def test_missing_sources_are_named_before_any_fit(tmp_path):
    """Photos only (no real pair to learn a reflection from), or no held-out photos to set the odds
    on: each is refused with what to give."""
    networks = build_networks(TINY_PRESENCE.model)
    pairs, photos = write_presence_sources(tmp_path, photos=4)
    with pytest.raises(RRGANError, match="needs real pairs"):
        training_rows(networks, collect_sources(photos=photos), TINY_PRESENCE.data, progress=False)
    with pytest.raises(RRGANError, match="held out of training"):
        calibration_photos(collect_sources(pairs), TINY_PRESENCE.data)
    no_holdout = TINY_PRESENCE.override(["data.photo_holdout=0"]).data
    with pytest.raises(RRGANError, match="held out of training"):
        calibration_photos(collect_sources(pairs, photos), no_holdout)
