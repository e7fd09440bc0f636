import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from conftest import make_pair_folder, random_image, random_networks, write_image
from PIL import Image

from rrgan.baselines import yang2019
from rrgan.cli import eval_main, export_main, remove_main
from rrgan.config import preset
from rrgan.data.default import draw_scene
from rrgan.data.images import read_rgb
from rrgan.errors import RRGANError
from rrgan.evaluation import psnr, resize_to_multiple
from rrgan.export import ServingBundle, save_weights
from rrgan.inference import load_model, output_names, reflection_layer, remove_reflections
from rrgan.training.run import train


@pytest.fixture(scope="module")
def model():
    return ServingBundle(random_networks(seed=1, scale=0.05)).serve


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    config = preset("tiny").override(["data.default_photos=8", "data.default_photo_size=64", "data.crop_size=48",
                                      "train.batch_size=2", "train.aux_steps=2", "train.gan_steps=2"])
    train(config, workdir, progress=False)
    return workdir


def test_tiles_match_a_single_pass(model):
    image = draw_scene(3, 200)[:, :150]
    whole = remove_reflections(model, image, tile=256)
    tiled = remove_reflections(model, image, tile=96, overlap=24)
    difference = np.abs(whole["transmission"].astype(int) - tiled["transmission"].astype(int))
    assert tiled["transmission"].shape == image.shape
    # Tolerance: tiles see less context near their borders; blending keeps the mean error tiny.
    assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 8, (difference.mean(), difference.max())


def test_layers_the_map_and_tile_progress(model):
    image = draw_scene(4, 200)[:, :150]
    single = model(tf.constant(image[None]))
    whole = remove_reflections(model, image, tile=256)
    np.testing.assert_array_equal(whole["transmission"], single["transmission"][0].numpy())
    np.testing.assert_array_equal(whole["map"], np.round(single["attention"][0, ..., 0].numpy() * 255))
    np.testing.assert_array_equal(whole["reflection"], reflection_layer(image, whole["transmission"]))
    calls = []
    tiled = remove_reflections(model, image, tile=96, overlap=24, progress=lambda *call: calls.append(call))
    assert calls == [(done, 6) for done in range(1, 7)]  # 3 x 2 tiles of 96 pixels
    assert tiled["map"].shape == image.shape[:2] and tiled["map"].dtype == np.uint8
    assert np.abs(tiled["map"].astype(int) - whole["map"]).mean() < 2.0


def test_output_names():
    assert output_names(Path("a/photo.tif"), ("transmission", "reflection", "map")) == {
        "transmission": Path("a/photo.tif"), "reflection": Path("a/photo_reflection.png"),
        "map": Path("a/photo_map.png")}
    assert output_names(Path("photo.heic")) == {"transmission": Path("photo.heic.png")}
    assert output_names(Path("photo.png"), file_format="jpg") == {"transmission": Path("photo.jpg")}


def test_remove_cli_saves_the_layers_from_a_workdir_and_its_savedmodel(workdir, tmp_path, capsys):
    """--save reflection map works from a SavedModel too: its serving signature gives the attention map."""
    image = draw_scene(6, 80)[:, :60]
    write_image(tmp_path / "photo.png", image)
    layers = {}
    for source, model_path in (("workdir", workdir), ("export", workdir / "export" / "rrgan")):
        output = tmp_path / source
        assert remove_main([str(tmp_path / "photo.png"), "-o", str(output), "--model", str(model_path), "--quiet",
                            "--precision", "float32", "--save", "transmission", "reflection", "map"]) == 0
        assert sorted(p.name for p in output.iterdir()) == ["photo.png", "photo_map.png", "photo_reflection.png"]
        with Image.open(output / "photo_map.png") as attention_map:
            assert attention_map.mode == "L" and attention_map.size == (60, 80)
            layers[source] = {"map": np.asarray(attention_map), "transmission": read_rgb(output / "photo.png"),
                              "reflection": read_rgb(output / "photo_reflection.png")}
        np.testing.assert_array_equal(layers[source]["reflection"],
                                      reflection_layer(image, layers[source]["transmission"]))
    for layer in ("transmission", "map"):
        assert np.abs(layers["workdir"][layer].astype(int) - layers["export"][layer]).max() <= 1
    assert remove_main([str(tmp_path / "photo.png"), "-o", str(tmp_path / "only"), "--model", str(workdir),
                        "--quiet", "--save", "map"]) == 0
    assert [p.name for p in (tmp_path / "only").iterdir()] == ["photo_map.png"]
    capsys.readouterr()


def test_odd_sizes_come_back_at_their_own_size(model):
    for height, width in [(17, 23), (513, 300)]:
        image = random_image(0, height, width)
        assert remove_reflections(model, image, tile=256, overlap=32)["transmission"].shape == (height, width, 3)


def test_bad_tiling_arguments(model):
    with pytest.raises(RRGANError, match="overlap"):
        remove_reflections(model, random_image(0), tile=64, overlap=32)
    with pytest.raises(RRGANError, match="RGB"):
        remove_reflections(model, np.zeros((10, 10), np.uint8))


def test_workdir_and_export_load_the_same_model(workdir, tmp_path, capsys):
    assert (workdir / "export" / "rrgan" / "4" / "saved_model.pb").exists()  # rrgan-train exported
    assert export_main([str(workdir), "-o", str(tmp_path / "export")]) == 0
    exported = capsys.readouterr().out.strip()
    image = draw_scene(5, 40)[None]
    from_workdir = load_model(workdir, "float32")(tf.constant(image))["transmission"].numpy()
    from_export = load_model(exported)(tf.constant(image))["transmission"].numpy()
    assert np.abs(from_workdir.astype(int) - from_export.astype(int)).max() <= 1


def test_remove_cli_skips_bad_files_by_name(workdir, tmp_path, capsys):
    photos = tmp_path / "photos"
    write_image(photos / "good.jpg", random_image(0, 40, 50))
    write_image(photos / "nested" / "also_good.png", random_image(1, 30, 20))
    (photos / "empty.png").write_bytes(b"")
    (photos / "text.png").write_text("not an image")
    truncated = cv2.imencode(".jpg", random_image(2, 40, 40))[1].tobytes()
    (photos / "truncated.jpg").write_bytes(truncated[: len(truncated) // 2])
    status = remove_main([str(photos), "-o", str(tmp_path / "out"), "--model", str(workdir), "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    for name in ("empty.png", "text.png", "truncated.jpg"):
        assert name in captured.err
    assert "wrote 2 photo(s)" in captured.out
    assert cv2.imread(str(tmp_path / "out" / "good.jpg")).shape == (40, 50, 3)
    assert cv2.imread(str(tmp_path / "out" / "nested" / "also_good.png")).shape == (30, 20, 3)


@pytest.mark.parametrize("arguments, message", [
    (["{tmp}/missing.jpg", "--method", "yang2019"], "missing.jpg: no such file"),
    (["{tmp}/empty_folder", "--method", "yang2019"], "no files found"),
    (["{tmp}/photo.png", "--model", "{tmp}/no_model"], "no_model: no such model"),
    (["{tmp}/photo.png"], "ships no pretrained weights"),
    (["{tmp}/photo.png", "--method", "yang2019", "--save", "map"], "yang2019 finds no reflection map"),
])
def test_remove_cli_user_errors(tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.setattr("rrgan.inference.PRETRAINED", tmp_path / "no_pretrained")
    (tmp_path / "empty_folder").mkdir()
    write_image(tmp_path / "photo.png", random_image(0))
    arguments = [a.format(tmp=tmp_path) for a in arguments]
    assert remove_main([*arguments, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_yang2019_without_threshold_is_the_identity():
    image = draw_scene(7, 64)
    assert np.abs(yang2019(image, threshold=0.0).astype(int) - image.astype(int)).max() <= 1


def test_yang2019_moves_a_smooth_reflection_towards_the_target():
    target = draw_scene(11, 160)
    reflection = cv2.GaussianBlur(draw_scene(12, 160), (0, 0), 6).astype(np.float64)
    image = np.clip(0.7 * target + 0.5 * reflection, 0, 255).astype(np.uint8)
    scaled_target = np.clip(0.7 * target + 0.5 * reflection.mean((0, 1)), 0, 255).astype(np.uint8)
    assert psnr(yang2019(image), scaled_target) > psnr(image, scaled_target) + 1.0


def test_eval_cli_tables_and_figure(tmp_path, capsys):
    make_pair_folder(tmp_path / "pairs", ["a", "b"], size=(40, 48))
    assert eval_main([str(tmp_path / "pairs"), "--method", "yang2019", "-o", str(tmp_path / "eval"),
                      "--figure", "b", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "identity" in out and "yang2019" in out and "scikit-image" in out
    import pandas as pd
    table = pd.read_csv(tmp_path / "eval" / "per_image.csv")
    assert len(table) == 4 and set(table["method"]) == {"identity", "yang2019"}
    summary = pd.read_csv(tmp_path / "eval" / "summary.csv")
    assert list(summary["images"]) == [2, 2]
    assert (tmp_path / "eval" / "comparison.png").exists()
    assert eval_main([str(tmp_path / "pairs"), "--method", "yang2019", "-o", str(tmp_path / "e2"),
                      "--figure", "zzz"]) == 2


def test_weights_folder_is_the_shipped_form(tmp_path, capsys, monkeypatch):
    networks = random_networks(seed=4, scale=0.05)
    folder = save_weights(networks, preset("tiny"), tmp_path / "weights")
    assert sorted(p.name for p in folder.iterdir()) == ["attention_net.weights.h5", "config.json",
                                                        "edge_net.weights.h5", "generator.weights.h5"]
    image = draw_scene(9, 48)[None]
    expected = ServingBundle(networks).serve(tf.constant(image))["transmission"].numpy()
    np.testing.assert_array_equal(load_model(folder, "float32")(tf.constant(image))["transmission"].numpy(),
                                  expected)
    # the package's own weights: rrgan-remove and rrgan-export need no --model
    monkeypatch.setattr("rrgan.inference.PRETRAINED", folder)
    write_image(tmp_path / "photo.png", image[0])
    assert remove_main([str(tmp_path / "photo.png"), "-o", str(tmp_path / "out"), "--quiet",
                        "--precision", "float32"]) == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out" / "photo.png"))[..., ::-1], expected[0])
    assert export_main(["-o", str(tmp_path / "export")]) == 0
    assert (tmp_path / "export" / "rrgan" / "1" / "saved_model.pb").exists()
    capsys.readouterr()


def test_shipped_model_makes_the_example_photo_better():
    """The shipped weights (under 40 MB) load with no download, bring the example photo closer to
    its clean scene (docs/make_example.py made both) than the photo itself is, and leave the clean
    scene nearly as it went in."""
    from rrgan import EXAMPLE_PHOTO
    from rrgan.inference import PRETRAINED

    assert sum(p.stat().st_size for p in PRETRAINED.iterdir()) < 40 * 2 ** 20
    photo = read_rgb(EXAMPLE_PHOTO)
    clean = read_rgb(Path(__file__).resolve().parents[1] / "docs" / "window_clean.jpg")
    model = load_model()
    output = remove_reflections(model, photo)["transmission"]
    assert output.shape == photo.shape
    assert psnr(output, clean) > psnr(photo, clean) + 0.5
    # the clean scene itself holds no reflection: the Presence-net leaves it nearly as it went in
    untouched = remove_reflections(model, clean)["transmission"]
    assert psnr(untouched, clean) > 40.0
    assert abs(untouched.mean() / clean.mean() - 1.0) < 0.01


def test_shipped_model_is_what_the_reproduction_script_trains():
    """experiments/reproduce_shipped.sh is the shipped model's recipe: ``--preset cpu-long``, its level
    stage, the generator's fine-tune, the Level-net at a finer thumbnail, then the presence stage with
    the script's ``pairs``, ``fine_tune`` and ``level_finer`` overrides, whose config the shipped one
    is but for the Presence-net's odds, which that stage sets on clean photos. It must also stay the
    mission's model (the adversarial term on) with a Level-net and a Presence-net."""
    from rrgan.inference import load_config

    script = (Path(__file__).resolve().parents[1] / "experiments" / "reproduce_shipped.sh").read_text()
    overrides = []
    for array in ("pairs", "fine_tune", "level_finer"):
        body = re.search(rf"^{array}=\((.*?)\)", script, re.MULTILINE | re.DOTALL).group(1)
        overrides += re.findall(r"--set (\S+)", body)
    shipped = load_config()
    models = ["model.level_net=true", "model.presence_net=true", f"model.presence_odds={shipped.model.presence_odds}"]
    assert shipped == preset("cpu-long").override(models + overrides)
    assert shipped.loss.adversarial > 0


def test_bfloat16_compute_stays_close_to_float32(tmp_path):
    from rrgan.inference import compute_precision

    assert compute_precision("float32") == "float32"
    assert compute_precision("auto") in ("float32", "mixed_bfloat16")
    weights = save_weights(random_networks(seed=5, scale=0.05), preset("tiny"), tmp_path / "weights")
    image = tf.constant(random_image(6, 40, 36)[None])
    full = load_model(weights, "float32")(image)["transmission"].numpy().astype(int)
    half = load_model(weights, "mixed_bfloat16")(image)["transmission"].numpy().astype(int)
    assert np.abs(full - half).mean() < 1.0 and np.abs(full - half).max() <= 4


def test_tta_undoes_each_transform_and_averages():
    from rrgan.inference import TTA_TRANSFORMS, with_tta

    image = random_image(3, 20, 28)

    def brighten_left_column(images):  # depends on orientation: TTA spreads it over the borders
        transmission = tf.cast(images, tf.float32) + tf.pad(tf.fill(tf.shape(images[:, :, :1]), 80.0),
                                                             [[0, 0], [0, 0], [0, tf.shape(images)[2] - 1], [0, 0]])
        return {"transmission": tf.cast(tf.clip_by_value(transmission, 0, 255), tf.uint8),
                "attention": tf.cast(images[..., :1], tf.float32) / 255.0}

    identity = with_tta(lambda images: {"transmission": images}, 8)(tf.constant(image[None]))
    assert np.array_equal(identity["transmission"][0], image)
    single = with_tta(brighten_left_column, 1)(tf.constant(image[None]))
    assert np.array_equal(single["transmission"], brighten_left_column(tf.constant(image[None]))["transmission"])
    flipped = with_tta(brighten_left_column, 2)(tf.constant(image[None]))["transmission"][0].numpy().astype(int)
    assert np.abs(flipped[:, 0] - np.clip(image[:, 0].astype(int) + 80, 0, 255) / 2 - image[:, 0] / 2).max() <= 1
    averaged = with_tta(brighten_left_column, len(TTA_TRANSFORMS))(tf.constant(image[None]))
    assert averaged["attention"].shape == (1, 20, 28, 1)
    assert np.allclose(averaged["attention"][0, ..., 0], image[..., 0] / 255.0, atol=1e-6)
    with pytest.raises(RRGANError, match="1 to 8"):
        with_tta(brighten_left_column, 9)


def test_eval_cli_tta_and_resize_multiple(tmp_path, capsys):
    make_pair_folder(tmp_path / "pairs", ["a"], size=(70, 100))
    assert eval_main([str(tmp_path / "pairs"), "-o", str(tmp_path / "eval"), "--quiet", "--tta", "2",
                      "--resize-multiple", "32"]) == 0
    table = pd.read_csv(tmp_path / "eval" / "per_image.csv")
    image = read_rgb(tmp_path / "pairs" / "input" / "a.png")
    target = read_rgb(tmp_path / "pairs" / "target" / "a.png")
    identity = psnr(resize_to_multiple(image, 32), resize_to_multiple(target, 32))
    assert table[table["method"] == "identity"]["psnr"].iloc[0] == pytest.approx(identity)
    assert eval_main([str(tmp_path / "pairs"), "--method", "yang2019", "--tta"]) == 2
    assert "--tta" in capsys.readouterr().err


def test_working_size_matches_full_size_on_a_one_tile_photo(model):
    """200x150 is one tile either way: at a working size it fits, the output is the full-size one; at
    a quarter of its pixels, the correction made at 100x75 and applied at full size stays close."""
    image = draw_scene(3, 200)[:, :150]
    full = remove_reflections(model, image, working_pixels=0)
    fits = remove_reflections(model, image, working_pixels=200 * 150)
    for layer in ("transmission", "reflection", "map"):
        np.testing.assert_array_equal(fits[layer], full[layer])
    quarter = remove_reflections(model, image, working_pixels=100 * 75)
    assert quarter["transmission"].shape == image.shape and quarter["map"].shape == image.shape[:2]
    np.testing.assert_array_equal(quarter["reflection"], reflection_layer(image, quarter["transmission"]))
    difference = np.abs(quarter["transmission"].astype(int) - full["transmission"])
    assert difference.mean() < 3.0, difference.mean()
    assert np.abs(quarter["map"].astype(int) - full["map"]).mean() < 3.0


def test_working_size_keeps_the_photos_fine_detail():
    """A model that takes a constant 20 levels out: its correction is smooth, so the full-size output is
    the photo minus 20, pixel noise and all, not a blurred upscale of the small output."""
    def darken(images):
        return {"transmission": tf.cast(tf.cast(images, tf.int16) - 20, tf.uint8),
                "attention": tf.fill(tf.shape(images[..., :1]), 0.25)}

    image = np.clip(random_image(8, 90, 130), 30, 255)
    outputs = remove_reflections(darken, image, working_pixels=40 * 60)
    assert np.abs(outputs["transmission"].astype(int) - (image.astype(int) - 20)).max() <= 1
    assert np.abs(outputs["map"].astype(int) - 64).max() <= 1
    calls = []
    remove_reflections(darken, image, tile=32, overlap=8, working_pixels=40 * 60, progress=lambda *c: calls.append(c))
    assert calls[-1] == (6, 6)  # 2 x 3 tiles of the 40 x 60 working size, not of the photo


def test_savedmodel_at_a_working_size_matches_the_python_path(tmp_path):
    networks = random_networks(seed=3, scale=0.05)
    image = draw_scene(10, 160)[:, :120]
    plain = ServingBundle(networks).serve
    at_working_size = ServingBundle(networks, working_pixels=60 * 80).serve
    expected = remove_reflections(plain, image, working_pixels=60 * 80)
    outputs = at_working_size(tf.constant(image[None]))
    assert np.abs(outputs["transmission"][0].numpy().astype(int) - expected["transmission"]).max() <= 1
    assert np.abs(np.round(outputs["attention"][0, ..., 0].numpy() * 255) - expected["map"]).max() <= 1
    small = tf.constant(image[None, :60, :80])  # fits: the export's working size changes nothing
    np.testing.assert_array_equal(at_working_size(small)["transmission"], plain(small)["transmission"])
    with pytest.raises(RRGANError, match="working size"):
        remove_reflections(plain, image, working_pixels=-1)


def test_remove_cli_working_megapixels(tmp_path, capsys):
    weights = save_weights(random_networks(seed=6, scale=0.05), preset("tiny"), tmp_path / "weights")
    image = draw_scene(12, 120)[:, :90]
    write_image(tmp_path / "photo.png", image)
    model = load_model(weights, "float32")
    for megapixels, pixels in (("0.002", 2000), ("0", 0)):
        output = tmp_path / f"out{megapixels}"
        assert remove_main([str(tmp_path / "photo.png"), "-o", str(output), "--model", str(weights), "--quiet",
                            "--precision", "float32", "--working-megapixels", megapixels]) == 0
        np.testing.assert_array_equal(read_rgb(output / "photo.png"),
                                      remove_reflections(model, image, working_pixels=pixels)["transmission"])
    assert remove_main([str(tmp_path / "photo.png"), "-o", str(tmp_path / "bad"), "--model", str(weights),
                        "--working-megapixels", "-1"]) == 1  # the photo is skipped, named with the reason
    assert "working size must be positive" in capsys.readouterr().err


def test_working_size_bands_are_one_resize(monkeypatch):
    """The full-size work goes in bands of rows (here 7, across a batch of 2): the same as one
    bilinear resize of the correction and the maps, added to the full-size images."""
    from rrgan.working_size import at_working_size

    monkeypatch.setattr("rrgan.working_size.BAND", 7)
    images = tf.constant(np.stack([random_image(20, 50, 40), random_image(21, 50, 40)]))

    def run(small):  # a transmission at 0.8 of the input, and two maps of it
        values = tf.cast(small, tf.float32) / 255.0
        return tf.concat([values * 0.8, values[..., :2]], axis=-1)

    transmission, maps = at_working_size(run, images, tf.constant([13, 10]))
    small = tf.cast(tf.round(tf.clip_by_value(tf.image.resize(images, [13, 10], antialias=True), 0, 255)), tf.uint8)
    values = tf.cast(small, tf.float32) / 255.0
    expected = tf.image.resize(tf.concat([values * 0.8 - values, values[..., :2]], axis=-1), [50, 40])
    expected_transmission = np.round(np.clip(images.numpy() / 255.0 + expected[..., :3].numpy(), 0, 1) * 255)
    assert transmission.shape == (2, 50, 40, 3) and transmission.dtype == tf.uint8
    assert np.abs(transmission.numpy().astype(int) - expected_transmission).max() <= 1
    np.testing.assert_allclose(maps.numpy(), expected[..., 3:].numpy(), atol=1e-5)
