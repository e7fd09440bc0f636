"""The Level-net: its whole-photo step, its training views, its stage, and how it is served."""

import csv
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import make_pair_folder, make_unequal_pair_sets, random_networks, write_image

from rrgan.cli import train_main
from rrgan.config import ConfigError, preset
from rrgan.data.default import draw_scene
from rrgan.data.level_views import level_dataset
from rrgan.data.pipeline import collect_sources
from rrgan.export import LEVEL_SIGNATURE, UNLEVELLED_SIGNATURE, ServingBundle, find_saved_model, save_weights
from rrgan.inference import Remover, load_model, load_networks, remove_reflections, with_tta
from rrgan.level import level_step, thumbnail_shape
from rrgan.models import build_networks, grow_into
from rrgan.models.level_net import toward_field
from rrgan.training.run import train
from rrgan.training.trainers import LevelTrainer

TINY_LEVEL = preset("tiny").override(["model.level_net=true"])
TINY_LEARNED = preset("tiny").override(["model.level_net=true", "model.level_learned_mix=true"])
FAST = ["data.default_photos=12", "data.default_photo_size=64", "data.crop_size=48", "train.batch_size=2",
        "train.aux_steps=2", "train.gan_steps=2", "train.level_steps=6", "train.level_batch_size=5",
        "train.validation_every=1000", "train.sample_every=1000", "train.log_every=1", "model.level_net=true"]


def _with_offset(networks, offset: float):
    """The Level-net's field set to a constant offset (and no gain) everywhere."""
    layer = networks.level_net.get_layer("field")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.array([0, 0, 0, offset, offset, offset], np.float32)])
    return networks


@pytest.mark.parametrize("height, width, expected", [(3000, 4000, (128, 176)), (4000, 3000, (176, 128)),
                                                     (10, 10, (128, 128)), (100, 1000, (128, 1280))])
def test_thumbnails_have_the_short_side_and_whole_cells(height, width, expected):
    assert tuple(thumbnail_shape(height, width, 128).numpy()) == expected


def test_the_step_moves_the_low_frequencies_mix_of_the_way_and_keeps_the_detail():
    config = dataclasses.replace(TINY_LEVEL.model, level_mix=0.5)
    networks = _with_offset(build_networks(config), 0.2)
    photo = np.full((1, 90, 130, 3), 100, np.uint8)
    assert np.abs(level_step(networks, photo, photo).numpy().astype(int) - 126).max() <= 1  # 100 + 0.5 * 51
    detail = np.where((np.indices((90, 130)).sum(0) % 2)[None, ..., None], 90, 110).astype(np.uint8)
    detail = np.repeat(detail, 3, axis=-1)
    change = level_step(networks, photo, detail).numpy().astype(int) - detail
    assert np.abs(change - 26).max() <= 1  # to half way between 100 and the photo's new level, 151
    untrained = build_networks(TINY_LEVEL.model)
    np.testing.assert_array_equal(level_step(untrained, photo, photo).numpy(), photo)  # the photo stays the photo


def test_networks_without_a_level_net_skip_the_step():
    networks = random_networks(seed=0)
    photo, transmission = np.zeros((1, 20, 30, 3), np.uint8), np.full((1, 20, 30, 3), 7, np.uint8)
    assert level_step(networks, photo, transmission) is transmission


def test_level_views_mix_real_clean_and_veiled_in_fixed_shares(tmp_path):
    for index in range(6):
        write_image(tmp_path / "photos" / f"p{index}.png", draw_scene(index, 96))
    make_pair_folder(tmp_path / "pairs", [f"r{i}" for i in range(4)], size=(80, 120))
    sources = collect_sources([tmp_path / "pairs"], [tmp_path / "photos"])
    config = dataclasses.replace(
        TINY_LEVEL.data, level_real_fraction=0.4, level_clean_fraction=0.2, pair_brightness_ratio=(0.0, 10.0),
        pair_max_shift=100.0)
    batch = next(iter(level_dataset(sources, config, 10, 32, seed=3)))
    image, target = batch["input"].numpy(), batch["target"].numpy()
    assert image.shape == target.shape == (10, 32, 32, 3) and image.min() >= 0.0 and image.max() <= 1.0
    real, clean, veiled = slice(0, 4), slice(4, 6), slice(6, 10)
    assert np.abs(image[real] - target[real]).mean() > 0.05  # random pairs: nothing alike
    np.testing.assert_array_equal(image[clean], target[clean])
    assert (image[veiled] >= target[veiled] - 1e-6).all() and (image[veiled] - target[veiled]).mean() > 0.02
    again = next(iter(level_dataset(sources, config, 10, 32, seed=3)))
    np.testing.assert_array_equal(again["input"].numpy(), image)


@pytest.mark.parametrize("balance, small_share", [(False, (0.0, 0.25)), (True, (0.35, 0.65))])
def test_level_views_take_pair_sets_by_size_or_alike(tmp_path, balance, small_share):
    make_unequal_pair_sets(tmp_path / "data")
    config = dataclasses.replace(TINY_LEVEL.data, level_real_fraction=1.0, level_clean_fraction=0.0,
                                 pair_brightness_ratio=(0.0, 10.0), balance_pair_sets=balance)
    batches = level_dataset(collect_sources([tmp_path / "data"]), config, 8, 32, seed=0).take(10)
    from_small = np.concatenate([batch["input"].numpy().mean(axis=(1, 2, 3)) < 0.5 for batch in batches])
    assert small_share[0] <= from_small.mean() <= small_share[1]


def test_level_shares_must_fit_in_a_batch():
    with pytest.raises(ConfigError, match="level_real_fraction"):
        preset("tiny").override(["data.level_real_fraction=0.9", "data.level_clean_fraction=0.2"])
    with pytest.raises(ConfigError, match="level_thumbnail"):
        preset("tiny").override(["model.level_thumbnail=40"])


def _level_losses(networks, batch, learning_rate: float, steps: int) -> tuple[float, float]:
    """The level loss of a LevelTrainer's first step on ``batch`` and of its last, ``steps`` steps later."""
    trainer = LevelTrainer(networks)
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate))
    step = tf.function(trainer.train_step)
    first = float(step(batch)["level"])
    for _ in range(steps):
        last = float(step(batch)["level"])
    return first, last


def test_the_level_trainer_learns_a_veil():
    networks = build_networks(TINY_LEVEL.model)
    target = np.stack([draw_scene(seed, 32) for seed in range(4)]).astype(np.float32) / 255.0
    batch = {"input": tf.constant(np.clip(target * 0.8 + 0.15, 0, 1)), "target": tf.constant(target)}
    first, last = _level_losses(networks, batch, learning_rate=1e-3, steps=40)
    assert last < 0.3 * first
    field = tf.image.resize(networks.level_net(batch["input"]), [32, 32], "bilinear")
    output = toward_field(batch["input"], batch["input"], field, 1.0)
    assert float(tf.reduce_mean(tf.abs(output - target))) < float(tf.reduce_mean(tf.abs(batch["input"] - target)))


def test_a_learned_mix_starts_as_the_fixed_one():
    fixed = _with_offset(build_networks(TINY_LEVEL.model), 0.2)
    learned = build_networks(TINY_LEARNED.model)
    grow_into(fixed.level_net, learned.level_net)
    photo = np.stack([draw_scene(seed, 64)[:48] for seed in range(2)])
    transmission = (photo * 0.7).astype(np.uint8)
    np.testing.assert_array_equal(level_step(learned, photo, transmission).numpy(),
                                  level_step(fixed, photo, transmission).numpy())


def test_a_learned_mix_keeps_the_generators_level_where_it_is_right():
    networks = _with_offset(build_networks(TINY_LEARNED.model), 0.3)
    networks.level_net.get_layer("field").trainable = False  # only the mix can move
    image = tf.constant(np.stack([draw_scene(seed, 64) for seed in range(2)]).astype(np.float32) / 255.0)
    batch = {"input": image, "target": tf.cast(networks.remove_reflection(image)["transmission"], tf.float32)}
    first, last = _level_losses(networks, batch, learning_rate=1e-2, steps=25)
    assert last < 0.1 * first
    assert float(tf.reduce_mean(tf.sigmoid(networks.level_net([image, batch["target"]])[..., 6:]))) < 0.2


def test_a_learned_mix_needs_a_mix_to_start_from():
    with pytest.raises(ConfigError, match="level_learned_mix"):
        TINY_LEARNED.override(["model.level_mix=1"])


def _networks(workdir):
    return load_networks(workdir, "float32")


@pytest.fixture(scope="module")
def level_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("level_run")
    result = train(preset("tiny").override(FAST), workdir, progress=False)
    return workdir, result


def test_the_level_stage_trains_after_the_others_and_logs_its_loss(level_run):
    workdir, result = level_run
    assert (result.aux_step, result.gan_step, result.level_step) == (2, 2, 6)
    with open(workdir / "losses.csv") as file:
        stages = {row["stage"] for row in csv.DictReader(file)}
    assert stages == {"aux", "gan", "level"}
    assert result.export is not None and result.export.name == "10"
    with open(workdir / "validation.csv") as file:
        level_rows = [row for row in csv.DictReader(file) if row["stage"] == "level"]
    assert [int(row["step"]) for row in level_rows] == [6] and result.validation_step == 6
    assert {name: round(scores["psnr"], 4) for name, scores in result.validation.items()} == {
        row["set"]: float(row["psnr"]) for row in level_rows}  # the scores the stage's last validation logged


def test_a_served_level_net_matches_the_python_path(level_run, tmp_path):
    workdir, result = level_run
    from_workdir, from_export = load_model(workdir, "float32"), load_model(result.export)
    assert isinstance(from_workdir, Remover) and isinstance(from_export, Remover)
    signatures = tf.saved_model.load(str(find_saved_model(result.export))).signatures
    assert {UNLEVELLED_SIGNATURE, LEVEL_SIGNATURE} <= set(signatures)
    image = draw_scene(5, 120)[:, :100]
    served = from_export(tf.constant(image[None]))["transmission"][0].numpy()
    assert np.abs(served.astype(int) - from_workdir(tf.constant(image[None]))["transmission"][0].numpy()).max() <= 1
    tiled = remove_reflections(from_export, image, tile=64, overlap=16)
    unlevelled = remove_reflections(from_export.tiles, image, tile=64, overlap=16)
    stepped = level_step(_networks(workdir), image[None], unlevelled["transmission"][None])[0].numpy()
    assert np.abs(tiled["transmission"].astype(int) - stepped).max() <= 1
    flipped = with_tta(from_export, 2)  # the tiles averaged over the flip, the whole-photo step once after them
    assert isinstance(flipped, Remover) and flipped.whole_photo is from_export.whole_photo
    assert remove_reflections(flipped, image)["transmission"].shape == image.shape


def test_weights_folders_carry_the_level_net(level_run, tmp_path):
    workdir, _ = level_run
    networks = _networks(workdir)
    folder = save_weights(networks, preset("tiny").override(FAST), tmp_path / "weights")
    assert (folder / "level_net.weights.h5").is_file()
    image = tf.constant(draw_scene(2, 64)[None])
    expected = ServingBundle(networks).serve(image)["transmission"].numpy()
    np.testing.assert_array_equal(load_model(folder, "float32")(image)["transmission"].numpy(), expected)


def test_a_level_stage_can_be_added_to_trained_networks(level_run, tmp_path):
    first = tmp_path / "plain"
    train(preset("tiny").override([f for f in FAST if f != "model.level_net=true"]), first, progress=False)
    assert train_main(["--init", str(first), "--stage", "level", "--set", "model.level_net=true", "--set",
                       "train.level_steps=3", "--set", "train.level_batch_size=4", "--quiet",
                       "--workdir", str(tmp_path / "levelled")]) == 0
    plain, levelled = _networks(first), _networks(tmp_path / "levelled")
    np.testing.assert_array_equal(plain.generator.get_weights()[0], levelled.generator.get_weights()[0])
    assert levelled.level_net is not None
    assert train_main(["--init", str(tmp_path / "levelled"), "--stage", "level", "--set", "model.level_net=true",
                       "--set", "model.level_learned_mix=true", "--set", "train.level_steps=2", "--set",
                       "train.level_batch_size=4", "--quiet", "--workdir", str(tmp_path / "learned")]) == 0
    assert len(_networks(tmp_path / "learned").level_net.inputs) == 2
    image = tf.constant(draw_scene(3, 80)[None])
    served = load_model(tmp_path / "learned", "float32")(image)["transmission"].numpy()
    before = load_model(tmp_path / "levelled", "float32")(image)["transmission"].numpy()
    assert served.shape == image.shape and (served != before).any()
    exported = load_model(tmp_path / "learned" / "export" / "rrgan")(image)["transmission"].numpy()
    assert np.abs(exported.astype(int) - served).max() <= 1  # the SavedModel's graph takes the second input too


def test_a_trained_level_net_goes_on_at_another_thumbnail(level_run, tmp_path):
    """The Level-net is fully convolutional: a net trained at one thumbnail starts a run at another with
    its own weights (here kept by a zero rate), and the run records the new thumbnail."""
    workdir = tmp_path / "finer"
    finer = preset("tiny").override([*FAST, "model.level_thumbnail=48", "train.level_steps=1",
                                     "train.level_learning_rate=0"])
    train(finer, workdir, stages=("level",), progress=False, init=level_run[0])
    trained, started = _networks(level_run[0]), _networks(workdir)
    assert started.level_thumbnail == 48 and trained.level_thumbnail == 32
    for now, before in zip(started.level_net.get_layer("field").get_weights(),
                           trained.level_net.get_layer("field").get_weights()):
        np.testing.assert_array_equal(now, before)
    assert np.abs(trained.level_net.get_layer("field").get_weights()[0]).max() > 0  # trained, not the zero start


def test_resuming_a_level_stage_run_never_retrains_the_networks_it_started_from(level_run, tmp_path):
    """`rrgan-train --workdir W` on a run begun with `--init ... --stage level` goes on with the level
    stage: the stages before it are over, so the Edge-net, Attention-net and generator stay the init's."""
    workdir = tmp_path / "levelled"
    assert train_main(["--init", str(level_run[0]), "--stage", "level", "--set", "train.level_steps=2", "--set",
                       "train.level_batch_size=4", "--set", "train.log_every=1", "--quiet",
                       "--workdir", str(workdir)]) == 0
    started = _networks(workdir)
    assert train_main(["--workdir", str(workdir), "--steps", "3", "--quiet"]) == 0
    with open(workdir / "losses.csv") as file:
        logged = [(row["stage"], int(row["step"])) for row in csv.DictReader(file)]
    assert {stage for stage, _ in logged} == {"level"} and max(step for _, step in logged) == 3
    resumed = _networks(workdir)
    for net in ("edge_net", "attention_net", "generator"):
        for now, before in zip(getattr(resumed, net).get_weights(), getattr(started, net).get_weights()):
            np.testing.assert_array_equal(now, before)


def test_the_level_stage_trains_on_the_configured_norm(level_run, tmp_path):
    """loss.level_norm reaches the level stage: "psnr" logs minus dB, where the MSE logs squares."""
    workdir = tmp_path / "psnr"
    train(preset("tiny").override([*FAST, "loss.level_norm=psnr", "train.level_steps=2"]), workdir,
          stages=("level",), progress=False, init=level_run[0])
    with open(workdir / "losses.csv") as file:
        values = [float(row["value"]) for row in csv.DictReader(file) if row["stage"] == "level"]
    assert values and all(-50.0 <= value < -5.0 for value in values)
    with open(level_run[0] / "losses.csv") as file:
        assert all(0.0 <= float(row["value"]) < 1.0 for row in csv.DictReader(file) if row["stage"] == "level")


def test_the_level_stage_needs_a_level_net(tmp_path, capsys):
    assert train_main(["--stage", "level", "--workdir", str(tmp_path / "w")]) == 2
    assert "model.level_net=true" in capsys.readouterr().err


def test_a_saved_model_exported_before_the_level_net_still_loads(tmp_path):
    """SavedModels without the ``remove_unlevelled`` / ``level`` signatures are served whole, tile by tile."""
    class Halving(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
        def serve(self, images):
            shape = tf.concat([tf.shape(images)[:3], [1]], 0)
            return {"transmission": images // 2, "reflection": images - images // 2,
                    "attention": tf.zeros(shape), "edge": tf.zeros(shape)}

    module = Halving()
    tf.saved_model.save(module, str(tmp_path / "old"), signatures={"serving_default": module.serve})
    model = load_model(tmp_path / "old")
    assert not isinstance(model, Remover)
    image = draw_scene(4, 64)
    np.testing.assert_array_equal(remove_reflections(model, image, tile=32, overlap=8)["transmission"], image // 2)
