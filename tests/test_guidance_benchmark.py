"""benchmarks/guidance.py: a map is scored against the mask, the best constant and by its ranking."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # as `python benchmarks/guidance.py` runs
import guidance  # noqa: E402

MASK = np.zeros((2, 8, 8))
MASK[0, :3] = 1.0  # a share of 24 / 128


def test_the_mask_itself_scores_perfectly():
    scores = guidance.map_scores(MASK, MASK)
    assert scores["mse"] == 0.0 and scores["auc"] == 1.0
    assert scores["share"] == pytest.approx(24 / 128) and scores["constant_mse"] == pytest.approx(24 / 128 * 104 / 128)


def test_a_constant_at_the_share_is_the_constant_and_chance():
    scores = guidance.map_scores(np.full(MASK.shape, 24 / 128), MASK)
    assert scores["mse"] == pytest.approx(scores["constant_mse"]) and scores["auc"] == 0.5


def test_a_map_that_marks_the_wrong_pixels_ranks_below_chance():
    rng = np.random.default_rng(0)
    noisy = 0.2 * rng.random(MASK.shape)
    assert guidance.map_scores(1.0 - MASK + noisy, MASK)["auc"] == 0.0
    assert 0.0 < guidance.map_scores(MASK * 0.1 + noisy, MASK)["auc"] < 1.0


def test_a_mask_of_one_value_has_no_auc():
    assert np.isnan(guidance.map_scores(np.ones(MASK.shape), np.zeros(MASK.shape))["auc"])


def test_real_pairs_are_scored_at_a_long_side_of_512_at_most(tmp_path):
    from conftest import make_pair_folder

    folder = make_pair_folder(tmp_path / "pairs", ["wide", "other"], size=(300, 600))
    pairs = list(guidance._resized_pairs(str(folder)))
    assert len(pairs) == 2
    assert all(pair[key].shape == (1, 256, 512, 3) for pair in pairs for key in ("input", "target"))
    small = list(guidance._resized_pairs(str(make_pair_folder(tmp_path / "small", ["a"], size=(24, 32)))))
    assert small[0]["input"].shape == (1, 24, 32, 3)  # never enlarged


def test_with_a_pair_holdout_only_the_held_out_pairs_are_scored(tmp_path):
    import tensorflow as tf
    from conftest import make_pair_folder

    from rrgan.data.pipeline import held_out_pair

    names = [f"pair{i:02d}" for i in range(12)]
    folder = str(make_pair_folder(tmp_path / "pairs", names, size=(16, 16)))
    held = {name for name, kept in zip(names, held_out_pair(tf.constant(names), 0.3).numpy()) if kept}
    assert 0 < len(held) < len(names)
    assert {pair["name"] for pair in guidance._resized_pairs(folder, pair_holdout=0.3)} == held
    assert {pair["name"] for pair in guidance._resized_pairs(folder)} == set(names)


class _ZeroMap:
    """An Attention-net's stand-in whose map marks nothing."""

    def guidance(self, images):
        import tensorflow as tf

        return {"attention_maps": tf.zeros((*images.shape[:3], 1))}


def test_a_map_is_worth_what_the_generator_makes_of_it(tmp_path):
    from conftest import make_pair_folder

    from rrgan.config import preset
    from rrgan.metrics import psnr, quantize
    from rrgan.models import build_networks

    folder = make_pair_folder(tmp_path / "pairs", ["a", "b"], size=(24, 32))
    pairs = list(guidance._resized_pairs(str(folder)))
    networks = build_networks(preset("tiny").model)
    rng = np.random.default_rng(1)  # a generator that reads its inputs, as an untrained one barely does
    networks.generator.set_weights([rng.normal(0, 0.2, w.shape).astype("float32")
                                    for w in networks.generator.get_weights()])
    use = guidance.map_use(networks, _ZeroMap(), pairs)
    identity = np.mean([psnr(*(quantize(pair[key])[0].numpy() for key in ("input", "target"))) for pair in pairs])
    assert use["identity"][0] == pytest.approx(identity)
    assert use["map"] == use["no map"]  # a map of zeros is no map
    assert use["mask"] != use["no map"]  # the generator reads the map


def test_the_level_net_map_is_the_light_its_field_takes_out():
    import dataclasses

    import tensorflow as tf

    from rrgan.config import preset
    from rrgan.models import build_networks

    def field(thumbnail):  # an offset of -0.2 on the left half of the cells, nothing on the right
        cells = thumbnail.shape[1] // 16, thumbnail.shape[2] // 16
        offset = tf.concat([tf.fill((1, cells[0], cells[1] // 2, 3), -0.2),
                            tf.zeros((1, cells[0], cells[1] - cells[1] // 2, 3))], 2)
        return tf.concat([tf.zeros_like(offset), offset], -1)

    networks = build_networks(preset("tiny").model)
    networks = dataclasses.replace(networks, level_net=lambda thumbnail, training: field(thumbnail), level_thumbnail=64)
    images = tf.fill((1, 64, 128, 3), 0.5)
    light = guidance.level_map(networks, images).numpy()[0, ..., 0]
    assert light.shape == (64, 128)
    assert light[:, :48] == pytest.approx(0.2, abs=1e-5) and light[:, 80:] == pytest.approx(0.0, abs=1e-5)
    left = np.zeros((1, 64, 128))
    left[..., :64] = 1.0
    assert guidance.map_scores(light[None], left)["auc"] == 1.0
