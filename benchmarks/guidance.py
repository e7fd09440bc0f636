"""What the Attention-net tells the generator: on ``removal.py``'s crops (held-out photos, the
Zhang recipe at one strength and one blur per row), its last map against the mask it trains
towards (mean |I - T| over ``loss.mask_threshold``), beside the best constant map, and how well the
map ranks the mask's pixels (AUC: 0.5 is chance).

    python benchmarks/guidance.py [--model WORKDIR_OR_WEIGHTS] [--photos ../shared/data/photos]

A map that only matches the constant has learned the mask's share and nothing of where the
reflection is; the generator can then read it only as a constant. ``--pairs`` scores real pair
folders as well, each pair resized to a long side of 512, against the level-free mask (the target
scaled by its least-squares gain first: real targets are darker than their photos).

    python benchmarks/guidance.py --pairs ../shared/data/val/nature20 ../shared/data/train/real89 --pair-holdout 0.15

``--pair-holdout`` keeps each set's held-out pairs only, as ``rrgan-eval --pair-holdout`` does: a map
trained on a set's other pairs is judged on pairs it never saw.
"""

from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf
from removal import add_crop_arguments, zhang_crops  # this folder's removal.py: the same crops
from scipy.stats import rankdata

from rrgan import losses
from rrgan.config import preset
from rrgan.data.pipeline import evaluation_dataset, held_out_sources
from rrgan.inference import load_networks


def map_scores(predicted: np.ndarray, mask: np.ndarray) -> dict:
    """A map against a binary mask of the same pixels: the mask's share, the map's mean and max,
    their mean squared difference, that of the best constant (the mask's share), and the AUC of the
    map as a score for the mask (Mann-Whitney, ties shared; NaN where the mask is all one value)."""
    predicted, positive = np.ravel(predicted).astype(np.float64), np.ravel(mask) > 0.5
    count, positives = positive.size, int(positive.sum())
    auc = np.nan
    if 0 < positives < count:
        rank_sum = rankdata(predicted)[positive].sum()
        auc = (rank_sum - positives * (positives + 1) / 2) / (positives * (count - positives))
    return {"share": positive.mean(), "mean": predicted.mean(), "max": predicted.max(),
            "mse": np.mean((predicted - positive) ** 2), "constant_mse": positive.var(), "auc": auc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_crop_arguments(parser, sigmas=[1.0, 2.0, 5.0])
    parser.add_argument("--pairs", nargs="*", default=[], help="real pair folders to score as well")
    parser.add_argument("--pair-holdout", type=float, default=0.0, metavar="FRACTION",
                        help="score only the pairs that a run with data.pair_holdout=FRACTION held out of training")
    args = parser.parse_args()
    networks = load_networks(args.model, precision="float32")
    threshold = preset("cpu-long").loss.mask_threshold

    def scored(batches, level_free: bool = False) -> dict:
        maps, masks = [], []
        for batch in batches:
            maps.append(np.ravel(networks.guidance(batch["input"])["attention_maps"][..., -1]))
            masks.append(np.ravel(losses.reflection_mask(batch["input"], batch["target"], threshold, level_free)))
        return map_scores(np.concatenate(maps), np.concatenate(masks))

    print(f"{args.model or 'shipped'}: the Attention-net's last map, {args.crops} crops per row")
    for sigma in args.sigmas:
        print(f"sigma {sigma:g}: {_summary(scored(zhang_crops(args, sigma)))}")
    for folder in args.pairs:
        pairs = _resized_pairs(folder, args.pair_holdout)
        print(f"{folder} (level-free mask): {_summary(scored(pairs, level_free=True))}")


def _resized_pairs(folder: str, pair_holdout: float = 0.0, long_side: int = 512):
    for pair in evaluation_dataset(held_out_sources([folder], pair_holdout)):
        size = tf.cast(tf.shape(pair["input"])[1:3], tf.float32)
        new_size = tf.cast(tf.round(size * tf.minimum(1.0, long_side / tf.reduce_max(size))), tf.int32)
        yield {"name": pair["name"][0].numpy().decode(),
               **{key: tf.image.resize(pair[key], new_size, method="area") for key in ("input", "target")}}


def _summary(scores: dict) -> str:
    return (f"mask share {scores['share']:.3f}, map mean {scores['mean']:.3f} (max {scores['max']:.3f}); "
            f"MSE to the mask {scores['mse']:.4f}, the best constant's {scores['constant_mse']:.4f}; "
            f"AUC {scores['auc']:.3f}")


if __name__ == "__main__":
    main()
