"""The Presence-net: its gate in the whole-photo step, its stage, and how it is saved and served."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import random_networks, write_presence_sources

from rrgan.cli import train_main
from rrgan.config import Config, ConfigError, grows_into, preset
from rrgan.data.default import draw_scene
from rrgan.data.pipeline import held_out
from rrgan.export import ServingBundle, save_weights
from rrgan.inference import load_model, load_networks
from rrgan.level import level_step
from rrgan.models import build_networks
from rrgan.models.presence_net import START_LOGIT, gated, presence
from rrgan.training.run import train
from rrgan.working_size import BAND, in_bands

TINY_PRESENCE = preset("tiny").override(["model.level_net=true", "model.presence_net=true",
                                         "data.photo_holdout=0.1"])
FAST = ["data.default_photos=12", "data.default_photo_size=64", "data.crop_size=48", "train.batch_size=2",
        "train.aux_steps=2", "train.gan_steps=2", "train.level_batch_size=4",
        "train.validation_every=1000", "train.sample_every=1000", "train.log_every=1", "model.level_net=true",
        "model.presence_net=true", "train.level_steps=2", "data.photo_holdout=0.1"]
FAST_CONFIG = preset("tiny").override(FAST)


def _judging(networks, logit: float):
    """The Presence-net set to give ``logit`` for every photo."""
    layer = networks.presence_head.get_layer("presence_logit")
    kernel, _ = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.array([logit], np.float32)])
    return networks


def test_an_untrained_presence_net_passes_the_correction_through_for_any_thumbnail():
    net = build_networks(TINY_PRESENCE.model).presence_net
    for shape in [(2, 32, 48, 3), (1, 64, 32, 3)]:
        logits = net(np.random.default_rng(0).random(shape, np.float32))
        assert logits.shape == (shape[0], 1)
        np.testing.assert_allclose(presence(logits).numpy(), 1 / (1 + np.exp(-START_LOGIT)), rtol=1e-6)


def test_the_gate_keeps_its_share_of_the_correction():
    photo, corrected = np.full((1, 2, 2, 3), 0.8, np.float32), np.full((1, 2, 2, 3), 0.4, np.float32)
    np.testing.assert_allclose(gated(photo, corrected, 0.0), photo)
    np.testing.assert_allclose(gated(photo, corrected, 1.0), corrected)
    np.testing.assert_allclose(gated(photo, corrected, 0.25), 0.7, rtol=1e-6)


def test_a_photo_judged_clean_comes_back_as_it_went_in():
    networks = _judging(build_networks(TINY_PRESENCE.model), -30.0)
    photo = draw_scene(1, 80)[None]
    darker = (photo * 0.8).astype(np.uint8)
    np.testing.assert_array_equal(level_step(networks, photo, darker).numpy(), photo)
    _judging(networks, 30.0)  # judged to hold one: the Level-net's step alone
    levelled = level_step(dataclasses.replace(networks, presence_net=None), photo, darker).numpy()
    np.testing.assert_array_equal(level_step(networks, photo, darker).numpy(), levelled)
    assert (levelled != photo).any()


def test_the_presence_net_is_a_head_on_the_level_net_and_needs_one():
    networks = build_networks(TINY_PRESENCE.model)
    assert [v.path for v in networks.presence_head.weights] == ["presence_logit/kernel", "presence_logit/bias"]
    head = {id(v) for v in networks.presence_head.weights}
    read = {id(v) for v in networks.presence_net.weights} - head
    assert read and read <= {id(v) for v in networks.level_net.weights}  # the Level-net's own, not copies
    with pytest.raises(ConfigError, match="model.level_net=true"):
        preset("tiny").override(["model.presence_net=true"])


def test_bands_keep_each_row_with_its_own_photo():
    """A gate per photo, over bands of rows that cross from one photo into the next."""
    height = BAND + 44
    images = np.stack([np.full((height, 5, 3), 200, np.uint8), np.full((height, 5, 3), 100, np.uint8)])
    others = np.zeros_like(images)
    share = tf.constant([0.5, 0.0])

    def combine(image_rows, other_rows, index):
        kept = tf.gather(share, index)[:, None, None]
        return tf.cast(tf.cast(image_rows, tf.float32) * (1 - kept) + tf.cast(other_rows, tf.float32) * kept,
                       tf.uint8)

    combined = in_bands(combine, tf.constant(images), tf.constant(others)).numpy()
    assert combined.shape == images.shape
    assert (combined[0] == 100).all() and (combined[1] == 100).all()


def test_networks_without_whole_photo_nets_skip_the_step():
    networks = random_networks(seed=0)
    photo, transmission = np.zeros((1, 20, 30, 3), np.uint8), np.full((1, 20, 30, 3), 7, np.uint8)
    assert networks.presence_net is None and level_step(networks, photo, transmission) is transmission


@pytest.fixture(scope="module")
def presence_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("presence_run")
    pairs, photos = write_presence_sources(root)
    return root / "run", train(preset("tiny").override(FAST), root / "run", pairs, photos=photos, progress=False)


def test_the_presence_stage_fits_after_the_others_and_is_served(presence_run, tmp_path):
    workdir, result = presence_run
    assert (result.aux_step, result.gan_step, result.level_step) == (2, 2, 2)
    record = json.loads((workdir / "presence.json").read_text())
    assert result.presence_odds == record["odds"] == Config.load(workdir / "config.json").model.presence_odds
    names = tf.constant([f"photo{i}" for i in range(40)])
    training = int((~held_out(names, FAST_CONFIG.data.photo_holdout)).numpy().sum())
    assert record["rows"] == {"glass": 6, "glass targets": 6, "photos": training}
    assert record["calibration_photos"] == int(held_out(names, FAST_CONFIG.data.photo_holdout / 2).numpy().sum())
    networks = load_networks(workdir)
    assert networks.presence_odds == record["odds"]
    kernel = networks.presence_head.get_layer("presence_logit").get_weights()[0]
    assert np.abs(kernel).max() > 0  # fitted: an unfitted head's kernel is zero
    scene = tf.constant(draw_scene(6, 96)[None])
    served = load_model(result.export)(scene)["transmission"].numpy()  # the SavedModel TF Serving loads
    assert np.abs(served.astype(int) - load_model(workdir, "float32")(scene)["transmission"].numpy()).max() <= 1
    _judging(networks, -30.0)  # every photo judged clean: served, the photo comes back as it went in
    image = tf.constant(draw_scene(4, 72)[None])
    np.testing.assert_array_equal(ServingBundle(networks).serve(image)["transmission"].numpy(), image.numpy())
    folder = save_weights(networks, preset("tiny").override(FAST), tmp_path / "weights")
    assert (folder / "presence_head.weights.h5").stat().st_size < 100_000  # the head alone: the Level-net is its own
    np.testing.assert_array_equal(load_model(folder, "float32")(image)["transmission"].numpy(), image.numpy())


def test_a_presence_net_can_be_added_to_trained_networks(presence_run, tmp_path):
    plain = tmp_path / "plain"
    train(preset("tiny").override([f for f in FAST if f != "model.presence_net=true"]), plain, progress=False)
    assert grows_into(preset("tiny").override(["model.level_net=true"]).model, TINY_PRESENCE.model)
    pairs, photos = write_presence_sources(tmp_path)
    assert train_main(["--init", str(plain), "--stage", "presence", "--set", "model.presence_net=true",
                       "--set", "data.photo_holdout=0.1", "--data", *map(str, pairs), "--photos", *map(str, photos),
                       "--quiet", "--workdir", str(tmp_path / "judged")]) == 0
    before, after = load_networks(plain), load_networks(tmp_path / "judged")
    for name in ("generator", "level_net"):
        np.testing.assert_array_equal(getattr(before, name).get_weights()[0], getattr(after, name).get_weights()[0])
    assert after.presence_net is not None


def test_the_presence_stage_needs_a_presence_net(tmp_path, capsys):
    assert train_main(["--stage", "presence", "--workdir", str(tmp_path / "w")]) == 2
    assert "model.presence_net=true" in capsys.readouterr().err


def test_the_odds_move_the_logit_by_their_log():
    np.testing.assert_allclose(presence(np.zeros((1, 1), np.float32), 8.0).numpy(), 8 / 9, rtol=1e-6)
    np.testing.assert_allclose(presence(np.log(np.full((1, 1), 1 / 8, np.float32)), 8.0).numpy(), 0.5, rtol=1e-6)
    with pytest.raises(ConfigError, match="presence_odds"):
        TINY_PRESENCE.override(["model.presence_odds=0"])


def test_the_head_may_have_a_hidden_layer():
    config = TINY_PRESENCE.override(["model.presence_hidden=4"]).model
    networks = build_networks(config)
    assert [v.path for v in networks.presence_head.weights] == [
        "hidden/kernel", "hidden/bias", "presence_logit/kernel", "presence_logit/bias"]
    pooled = 2 * (config.level_width + config.level_width // 2 + 3)  # mean and spread of each cell's features
    assert networks.presence_head.get_layer("hidden").kernel.shape == (pooled, 4)
    with pytest.raises(ConfigError, match="presence_hidden"):
        TINY_PRESENCE.override(["model.presence_hidden=-1"])


def test_the_step_keeps_the_share_the_configured_odds_give():
    """model.presence_odds reaches the step: at a logit of 0 and odds 3 it keeps 3/4 of the correction."""
    networks = build_networks(TINY_PRESENCE.override(["model.presence_odds=3"]).model)
    assert networks.presence_odds == 3.0
    _judging(networks, 0.0)
    photo = np.full((1, 40, 48, 3), 200, np.uint8)
    darker = np.full((1, 40, 48, 3), 100, np.uint8)
    levelled = level_step(dataclasses.replace(networks, presence_net=None), photo, darker).numpy().astype(float)
    expected = 200 + 0.75 * (levelled - 200)
    assert np.abs(level_step(networks, photo, darker).numpy() - expected).max() <= 1
