import numpy as np
import pytest
from conftest import make_pair_folder, random_image

from rrgan.data.images import read_rgb
from rrgan.evaluation import evaluate, psnr, ssim, summarize

metrics = pytest.importorskip("skimage.metrics")


@pytest.mark.parametrize("seed", [0, 1])
def test_metrics_equal_scikit_image(seed):
    target = random_image(seed, 40, 52)
    noisy = np.clip(target + np.random.default_rng(seed).normal(0, 20, target.shape), 0, 255).astype(np.uint8)
    assert psnr(noisy, target) == pytest.approx(metrics.peak_signal_noise_ratio(target, noisy, data_range=255),
                                                abs=1e-9)
    assert ssim(noisy, target) == pytest.approx(
        metrics.structural_similarity(target, noisy, data_range=255, channel_axis=2), abs=1e-9)
    assert psnr(target, target) == float("inf") and ssim(target, target) == pytest.approx(1.0)


def test_evaluate_table_has_identity_and_method(tmp_path):
    make_pair_folder(tmp_path / "setA", ["x", "y"], size=(30, 30))
    table = evaluate({"darken": lambda image: image // 2}, [tmp_path / "setA"], progress=False)
    assert len(table) == 4
    identity = table[(table["method"] == "identity") & (table["image"] == "x")].iloc[0]
    pair_input, pair_target = read_rgb(tmp_path / "setA" / "input" / "x.png"), read_rgb(
        tmp_path / "setA" / "target" / "x.png")
    assert identity["psnr"] == pytest.approx(metrics.peak_signal_noise_ratio(pair_target, pair_input,
                                                                             data_range=255))
    summary = summarize(table)
    assert list(summary["method"]) == ["identity", "darken"] and list(summary["images"]) == [2, 2]


def test_a_model_that_beats_identity_everywhere_outranks_a_larger_mean_gain():
    from rrgan.metrics import beats_identity, model_rank

    def scores(psnr_gains, ssim_gains):
        return {f"set{i}": {"psnr": 20 + p, "identity_psnr": 20.0, "ssim": 0.8 + s, "identity_ssim": 0.8}
                for i, (p, s) in enumerate(zip(psnr_gains, ssim_gains))}

    balanced = scores([0.3, 0.2], [0.01, 0.01])
    lopsided = scores([1.5, 0.1], [0.02, -0.001])  # larger mean gain, but SSIM below identity on one set
    assert beats_identity(balanced) and not beats_identity(lopsided)
    assert model_rank(balanced) > model_rank(lopsided)
    assert model_rank(scores([0.5, 0.5], [0.01, 0.01])) > model_rank(balanced)
    assert model_rank(lopsided) > model_rank(scores([1.0, 0.1], [0.02, -0.001]))


def test_resize_to_multiple_takes_the_nearest_lower_multiple_per_side(tmp_path):
    from rrgan.evaluation import resize_to_multiple

    image = random_image(0, 70, 100)
    assert resize_to_multiple(image, 32).shape == (64, 96, 3)
    assert np.array_equal(resize_to_multiple(image[:64, :96], 32), image[:64, :96])
    make_pair_folder(tmp_path / "set", ["x"], size=(70, 100))
    full = evaluate({}, [tmp_path / "set"], progress=False)
    resized = evaluate({}, [tmp_path / "set"], progress=False, resize_multiple=32)
    assert full["psnr"].iloc[0] != pytest.approx(resized["psnr"].iloc[0])


def test_level_free_psnr_forgives_the_level_and_nothing_else(tmp_path):
    from rrgan.metrics import level_free_psnr

    target = random_image(3, 40, 40)
    darker = np.round(target * 0.8).astype(np.uint8)
    assert psnr(darker, target) < 25 < level_free_psnr(darker, target)  # a gain alone is forgiven
    noisy = np.clip(target + np.random.default_rng(3).normal(0, 10, target.shape), 0, 255).astype(np.uint8)
    assert level_free_psnr(noisy, target) == pytest.approx(psnr(noisy, target), abs=0.1)  # local error is not
    make_pair_folder(tmp_path / "set", ["x", "y"], size=(30, 30))
    summary = summarize(evaluate({"darken": lambda image: image // 2}, [tmp_path / "set"], progress=False))
    darken = summary[summary["method"] == "darken"].iloc[0]
    assert darken["level"] < 0.6 and darken["level_free_psnr"] > darken["psnr"]


def test_pair_holdout_scores_only_held_out_pairs(tmp_path):
    from rrgan.data.pairs import find_pair_sets
    from rrgan.data.pipeline import held_out_pairs

    make_pair_folder(tmp_path / "set", [f"p{i}" for i in range(20)], size=(12, 12))
    held = {pair.name for pair in held_out_pairs(find_pair_sets(tmp_path / "set")[0], 0.3).pairs}
    table = evaluate({}, [tmp_path / "set"], progress=False, pair_holdout=0.3)
    assert held and set(table["image"]) == held
