import csv
import dataclasses

import numpy as np
import pytest
from conftest import make_pair_folder, make_unequal_pair_sets, random_image, write_image

from rrgan.cli import data_main
from rrgan.config import SynthesisConfig, preset
from rrgan.data.default import write_default_photos
from rrgan.data.images import decode_rgb
from rrgan.data.pairs import find_pairs
from rrgan.data.pipeline import (
    collect_sources,
    evaluation_dataset,
    evaluation_subset,
    global_shift,
    held_out_pairs,
    pair_records,
    random_window,
    training_dataset,
    usable_pair,
)
from rrgan.data.tfrecords import write_pairs, write_photos
from rrgan.errors import RRGANError


def _config(**changes):
    """Tiny data config. The pair filters are off unless a test sets them: the random test pairs have
    an inverted target (255 - input), which defeats phase correlation."""
    changes = {"crop_size": 32, "shuffle_buffer": 8, "pair_max_shift": 1e9, "pair_brightness_ratio": (0.0, 1e9),
               **changes}
    return dataclasses.replace(preset("tiny").data, **changes)


def _batches(dataset, count):
    iterator = iter(dataset)
    return [{k: v.numpy() for k, v in next(iterator).items()} for _ in range(count)]


@pytest.fixture
def photos(tmp_path):
    return write_default_photos(tmp_path / "photos", count=6, size=48)[0].parent


def test_synthetic_batches_have_shape_range_and_reflection(photos):
    batch = _batches(training_dataset([], _config(), batch_size=3, seed=1, photos=[photos]), 1)[0]
    for key in ("input", "target", "reflection"):
        assert batch[key].shape == (3, 32, 32, 3) and batch[key].dtype == np.float32
        assert batch[key].min() >= 0.0 and batch[key].max() <= 1.0
    assert batch["has_reflection"].all()
    assert np.abs(batch["input"] - batch["target"]).mean() > 0.01


def test_same_seed_same_batches_other_seed_other_batches(photos, tmp_path):
    make_pair_folder(tmp_path / "pairs", ["a", "b", "c"], size=(40, 50))
    config = _config(real_fraction=0.5)
    first = _batches(training_dataset([tmp_path / "pairs"], config, batch_size=4, seed=3, photos=[photos]), 3)
    again = _batches(training_dataset([tmp_path / "pairs"], config, batch_size=4, seed=3, photos=[photos]), 3)
    other = _batches(training_dataset([tmp_path / "pairs"], config, batch_size=4, seed=4, photos=[photos]), 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["input"], b["input"])
        np.testing.assert_array_equal(a["target"], b["target"])
    assert not np.array_equal(first[0]["input"], other[0]["input"])


def test_real_pairs_stay_aligned_and_small_images_are_used(tmp_path):
    # target = 255 - input, so any misalignment between the two crops breaks input + target == 1.
    make_pair_folder(tmp_path / "pairs", ["a", "b"], size=(20, 28))  # smaller than the crop
    config = _config(real_fraction=1.0, scale_range=(0.5, 1.5))
    for batch in _batches(training_dataset([tmp_path / "pairs"], config, batch_size=4, seed=0), 3):
        assert batch["input"].shape == (4, 32, 32, 3)
        np.testing.assert_allclose(batch["input"] + batch["target"], 1.0, atol=2e-2)
        assert not batch["has_reflection"].any()


def test_mix_contains_real_and_synthetic(photos, tmp_path):
    make_pair_folder(tmp_path / "pairs", ["a", "b"], size=(40, 40))
    mixed = training_dataset([tmp_path / "pairs"], _config(real_fraction=0.5), 8, seed=0, photos=[photos])
    batches = _batches(mixed, 4)
    flags = np.concatenate([b["has_reflection"] for b in batches])
    assert 0 < flags.sum() < len(flags)


def test_shards_and_folders_feed_the_same_images(tmp_path):
    make_pair_folder(tmp_path / "pairs", ["d", "b", "a", "c"], size=(21, 33))
    write_pairs(find_pairs(tmp_path / "pairs").pairs, tmp_path / "shards", "pairs", shard_size=2, progress=False)
    from_folder = list(evaluation_dataset([tmp_path / "pairs"]).as_numpy_iterator())
    from_shards = list(evaluation_dataset([tmp_path / "shards"]).as_numpy_iterator())
    assert [e["name"][0] for e in from_folder] == [b"a", b"b", b"c", b"d"]
    assert len(from_shards) == 4
    for a, b in zip(from_folder, from_shards):
        assert a["name"] == b["name"]
        assert a["input"].shape == (1, 21, 33, 3)
        np.testing.assert_array_equal(a["input"], b["input"])
        np.testing.assert_array_equal(a["target"], b["target"])


def test_photo_shards_train(tmp_path, photos):
    from rrgan.data.pairs import find_photos
    write_photos(find_photos(photos), tmp_path / "shards", "scenes", progress=False)
    sources = collect_sources([tmp_path / "shards"])
    assert sources.photo_shards and not sources.has_pairs
    assert _batches(training_dataset(sources, _config(), 2, seed=0), 1)[0]["input"].shape == (2, 32, 32, 3)


def test_odd_image_formats_enter_as_rgb(tmp_path):
    write_image(tmp_path / "photos" / "gray.png", random_image(0, 40, 40, 1)[..., 0])
    write_image(tmp_path / "photos" / "rgba.png", random_image(1, 40, 40, 4))
    write_image(tmp_path / "photos" / "deep.png", random_image(2, 40, 40).astype(np.uint16) * 257)
    batch = _batches(training_dataset([], _config(), 4, seed=0, photos=[tmp_path / "photos"]), 1)[0]
    assert batch["input"].shape == (4, 32, 32, 3)


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(RRGANError, match="missing"):
        collect_sources([tmp_path / "missing"])
    (tmp_path / "random.tfrecord").write_bytes(b"")
    with pytest.raises(RRGANError, match="random.tfrecord"):
        collect_sources([tmp_path / "random.tfrecord"])
    write_image(tmp_path / "photos" / "p.png", random_image(0))
    with pytest.raises(RRGANError, match="no image-pair layout"):
        evaluation_dataset([tmp_path / "photos"])


def test_pairs_in_an_unknown_layout_are_an_error_not_photos(tmp_path):
    """with_glass/ + clean/ is no layout rrgan knows: its photos with reflections must not silently
    become clean targets for synthesis."""
    for i in range(3):
        write_image(tmp_path / "pairs" / "with_glass" / f"{i}.png", random_image(i))
        write_image(tmp_path / "pairs" / "clean" / f"{i}.png", random_image(i + 5))
    with pytest.raises(RRGANError) as error:
        collect_sources([tmp_path / "pairs"])
    message = str(error.value)
    assert "with_glass/" in message and "clean/" in message  # what it found
    assert "input/ + target/" in message and "blended/ + transmission_layer/" in message  # what it accepts
    sources = collect_sources([], photos=[tmp_path / "pairs"])  # said explicitly, they are photos
    assert len(sources.photos) == 6 and not sources.has_pairs


def test_real_shared_data_batches(shared_data, tmp_path):
    sources = collect_sources([shared_data / "train", shared_data / "val"])
    assert {s.root.name for s in sources.pair_sets} >= {"real89", "glass400", "nature20", "sir2_solidobject"}
    config = dataclasses.replace(preset("base").data, crop_size=128, shuffle_buffer=32)
    for batch in _batches(training_dataset(sources, config, batch_size=4, seed=0), 3):
        assert batch["input"].shape == (4, 128, 128, 3)
        assert np.isfinite(batch["input"]).all()
    first = next(iter(evaluation_dataset([shared_data / "val" / "nature20"])))
    assert first["input"].shape[1:] == (400, 600, 3)


def _scene(seed, size=64):
    from rrgan.data.default import draw_scene

    return draw_scene(seed, size)


def test_global_shift_finds_the_translation():
    scene = _scene(1, 96)
    assert float(global_shift(scene, scene)) == 0.0
    shifted = np.roll(scene, (3, -4), axis=(0, 1))
    assert float(global_shift(scene, shifted)) == pytest.approx(5.0)


def _filter_cases(root):
    """One pair each filter keeps and one each filter drops (``tiny``: shift 1 px, ratio 0.65-1.03)."""
    scene = _scene(2, 96)
    pairs = {"aligned_darker": (scene, (scene * 0.9).astype(np.uint8)),
             "shifted": (scene, np.roll(scene, 6, axis=1)),
             "target_brighter": (scene // 2, scene),
             "target_much_darker": (scene, scene // 3)}
    for name, (image, target) in pairs.items():
        write_image(root / "input" / f"{name}.png", image)
        write_image(root / "target" / f"{name}.png", target)
    return root


def test_misaligned_and_implausibly_lit_pairs_are_dropped(tmp_path):
    _filter_cases(tmp_path / "pairs")
    defaults = preset("tiny").data
    config = _config(real_fraction=1.0, pair_max_shift=defaults.pair_max_shift,
                     pair_brightness_ratio=defaults.pair_brightness_ratio)
    records = pair_records(collect_sources([tmp_path / "pairs"]))
    kept = [r["name"].decode() for r in records.filter(lambda r: usable_pair(r, config)).as_numpy_iterator()]
    assert kept == ["aligned_darker"]


@pytest.mark.parametrize("balance, small_share", [(False, (0.0, 0.25)), (True, (0.35, 0.65))])
def test_pair_sets_share_real_pairs_by_size_or_equally(tmp_path, balance, small_share):
    make_unequal_pair_sets(tmp_path / "data")
    config = _config(real_fraction=1.0, balance_pair_sets=balance)
    batches = _batches(training_dataset([tmp_path / "data"], config, batch_size=8, seed=0), 20)
    from_small = np.concatenate([b["input"].mean(axis=(1, 2, 3)) < 0.5 for b in batches])
    assert small_share[0] <= from_small.mean() <= small_share[1]


def _ramp(height, width):
    """A horizontal ramp: the span of values in a crop is the share of the width its window covers."""
    return np.tile(np.linspace(0, 255, width)[None, :, None], (height, 1, 3)).astype(np.uint8)


def test_view_short_side_shows_large_images_zoomed_out_and_leaves_small_ones(tmp_path):
    def span(image, view):
        config = _config(crop_size=64, scale_range=(1.0, 1.0), flip=False, view_short_side=view)
        patch = random_window(image, config, np.array([7, 1], np.int64)).numpy()[..., 0]
        return patch.max() - patch.min()

    large, small = _ramp(800, 1000), _ramp(300, 400)
    assert span(large, (0, 0)) == pytest.approx(64 / 1000, abs=0.01)  # its own size
    assert span(large, (400, 400)) == pytest.approx(64 * 2 / 1000, abs=0.01)  # seen as if 400 px high
    assert span(small, (400, 400)) == pytest.approx(span(small, (0, 0)), abs=1e-6)  # never enlarged


def test_reflection_view_short_side_shows_the_reflection_a_whole_scene(tmp_path):
    for index in range(4):
        write_image(tmp_path / f"ramp{index}.png", _ramp(300, 400))
    screen_unblurred = SynthesisConfig(recipes=("dsrnet",), reflection_strength=(1.0, 1.0), dsrnet_sigma=(0.1, 0.1),
                                       dsrnet_reflection_scale=(1.0, 1.0), dsrnet_transmission_scale=(1.0, 1.0),
                                       dsrnet_screen_probability=1.0)

    def spans(**changes):
        config = _config(scale_range=(1.0, 1.0), flip=False, synthesis=screen_unblurred, **changes)
        batch = _batches(training_dataset([], config, batch_size=2, seed=0, photos=[tmp_path]), 1)[0]
        return [np.ptp(batch[key][..., 0], axis=(1, 2)) for key in ("target", "reflection")]

    transmission, reflection = spans()
    assert transmission == pytest.approx(32 / 400, abs=0.01) and reflection == pytest.approx(32 / 400, abs=0.01)
    transmission, reflection = spans(reflection_view_short_side=(32, 32))  # as if the photo were 32 px high
    assert transmission == pytest.approx(32 / 400, abs=0.01) and reflection == pytest.approx(300 / 400, abs=0.05)


def test_evaluation_subset_spreads_over_the_sorted_set(tmp_path):
    make_pair_folder(tmp_path / "pairs", ["a", "b", "c", "d", "e", "f"], size=(12, 12))
    names = [e["name"][0].decode() for e in evaluation_subset(tmp_path / "pairs", 3).as_numpy_iterator()]
    assert names == ["a", "c", "e"]


def test_photo_holdout_is_a_fixed_disjoint_share_by_name(tmp_path):
    import tensorflow as tf

    from rrgan.data.pipeline import held_out, holdout_pairs, photo_records

    names = [f"photo{i:03d}" for i in range(400)]
    split = held_out(tf.constant(names), 0.1).numpy()
    assert 25 <= split.sum() <= 55  # about a tenth, decided by each name alone
    assert (held_out(tf.constant(names[::-1]), 0.1).numpy() == split[::-1]).all()
    folder = tmp_path / "photos"
    for i, name in enumerate(names[:60]):
        write_image(folder / f"{name}.png", random_image(i, 20, 20))
    sources = collect_sources(photos=[folder])

    def stems(split_name):
        records = photo_records(sources, holdout=0.5, split=split_name)
        return {record["name"].numpy().decode() for record in records}

    train_names, holdout_names = stems("train"), stems("holdout")
    assert train_names and holdout_names and not train_names & holdout_names
    assert train_names | holdout_names == set(names[:60])
    pairs = list(holdout_pairs([folder], _config(photo_holdout=0.5, crop_size=16)))
    assert {p["name"].numpy().decode() for p in pairs} == holdout_names
    again = list(holdout_pairs([folder], _config(photo_holdout=0.5, crop_size=16)))
    assert all(np.array_equal(a["input"], b["input"]) for a, b in zip(pairs, again))
    assert pairs[0]["input"].shape == (16, 16, 3)
    assert any(not np.allclose(p["input"], p["target"]) for p in pairs)  # a reflection was blended in
    with pytest.raises(RRGANError, match="photo_holdout is 0"):
        holdout_pairs([folder], _config())


def test_pair_holdout_keeps_its_pairs_out_of_training_and_in_validation(tmp_path):
    """Held-out pairs never reach a training batch, neither as real pairs nor as photos for
    synthesis; the validation subset holds exactly them."""
    from rrgan.data.pipeline import held_out_pairs

    names = [f"p{i:02d}" for i in range(24)]
    for i, name in enumerate(names):  # each pair its own flat grey level, to know it in a crop
        level = 20 + 9 * i
        write_image(tmp_path / "pairs" / "input" / f"{name}.png", np.full((40, 40, 3), level + 4, np.uint8))
        write_image(tmp_path / "pairs" / "target" / f"{name}.png", np.full((40, 40, 3), level, np.uint8))
    pair_set = collect_sources([tmp_path / "pairs"]).pair_sets[0]
    held = {pair.name for pair in held_out_pairs(pair_set, 0.3).pairs}
    assert 2 <= len(held) <= 14
    held_levels = {20 + 9 * names.index(name) for name in held}

    def target_levels(real_fraction):
        config = _config(real_fraction=real_fraction, pair_holdout=0.3, flip=False, synthesis=dataclasses.replace(
            preset("tiny").data.synthesis, recipes=("ceilnet",), reflection_strength=(0.0, 0.0)))
        batches = _batches(training_dataset([tmp_path / "pairs"], config, batch_size=8, seed=0), 6)
        return {int(round(v)) for b in batches for v in b["target"][..., 0].mean(axis=(1, 2)) * 255}

    seen = target_levels(1.0) | target_levels(0.0)
    assert len(seen) >= 8 and not seen & held_levels
    validated = {e["name"][0].decode() for e in evaluation_subset(tmp_path / "pairs", 50, 0.3).as_numpy_iterator()}
    assert validated == held


def test_clean_fraction_makes_pairs_without_reflection(photos):
    config = _config(clean_fraction=0.5)
    batches = _batches(training_dataset([], config, batch_size=8, seed=0, photos=[photos]), 6)
    clean = np.concatenate([np.abs(b["input"] - b["target"]).max(axis=(1, 2, 3)) == 0 for b in batches])
    assert 0.25 <= clean.mean() <= 0.75  # about half: input = target, untouched
    reflections = np.concatenate([b["reflection"] for b in batches])
    assert not reflections[clean].any() and reflections[~clean].any()


def test_rrgan_data_check_names_the_pairs_training_leaves_out_and_why(tmp_path, capsys):
    folder = _filter_cases(tmp_path / "pairs")
    sheet, table = tmp_path / "left_out.png", tmp_path / "pairs.csv"
    assert data_main(["check", str(folder), "--preset", "tiny", "--sheet", str(sheet), "--thumbnail", "64",
                      "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "pairs: 4 pairs; 1 trained on, 0 held out (data.pair_holdout=0), 3 left out" in out
    assert "target shifted over 1 px: 1: shifted (1.00, 6.0 px)" in out
    assert "brightness ratio outside 0.65-1.03: 2: target_brighter (" in out
    rows = {row["name"]: row for row in csv.DictReader(table.open())}
    assert {name: row["left_out_by"] for name, row in rows.items()} == {
        "aligned_darker": "", "shifted": "shift", "target_brighter": "brightness_ratio",
        "target_much_darker": "brightness_ratio"}
    assert float(rows["target_much_darker"]["brightness_ratio"]) == pytest.approx(1 / 3, abs=0.02)
    # one row per left-out pair, input beside target
    assert decode_rgb(sheet.read_bytes()).numpy().shape == (22 + 3 * 64 + 2 * 4, 2 * 64 + 4, 3)


def test_rrgan_data_check_counts_the_held_out_pairs_apart(tmp_path, capsys):
    folder = make_pair_folder(tmp_path / "pairs", [f"p{i}" for i in range(20)])
    sheet = tmp_path / "left_out.png"
    assert data_main(["check", str(folder), "--preset", "tiny", "--set", "data.pair_holdout=0.5",
                      "--set", "data.pair_brightness_ratio=0,1000", "--set", "data.pair_max_shift=1000",
                      "--sheet", str(sheet)]) == 0
    held = len(held_out_pairs(find_pairs(folder), 0.5).pairs)
    assert 0 < held < 20
    out = capsys.readouterr().out
    assert f"pairs: 20 pairs; {20 - held} trained on, {held} held out (data.pair_holdout=0.5), 0 left out" in out
    assert "no pair is left out" in out and not sheet.exists()


def test_rrgan_data_check_without_pairs_is_a_one_line_error(tmp_path, capsys):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", _scene(3))
    assert data_main(["check", str(photos)]) == 2
    assert capsys.readouterr().err.startswith("rrgan-data: error: ")


def test_rrgan_data_check_leaves_held_out_pairs_off_the_sheet(tmp_path, capsys):
    folder = _filter_cases(tmp_path / "pairs")
    held = {pair.name for pair in held_out_pairs(find_pairs(folder), 0.5).pairs}
    left_out = {"shifted", "target_brighter", "target_much_darker"} - held
    sheet = tmp_path / "left_out.png"
    assert data_main(["check", str(folder), "--preset", "tiny", "--set", "data.pair_holdout=0.5",
                      "--sheet", str(sheet), "--thumbnail", "64"]) == 0
    assert held & {"shifted", "target_brighter", "target_much_darker"} and left_out  # the split has both kinds
    assert f"{len(held)} held out (data.pair_holdout=0.5), {len(left_out)} left out" in capsys.readouterr().out
    rows = len(left_out)
    assert decode_rgb(sheet.read_bytes()).numpy().shape[0] == 22 + rows * 64 + (rows - 1) * 4
