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

With a Level-net, ``--pairs`` also scores the light its field takes out of each pixel (the photo
minus the photo under the field, at the field's cells, upsampled) as a map of the same kind: a second
reflection finder that sees the whole photo.

AUC is a ranking: a map that marks the reflection a little above its false marks ranks it as well
as one near zero off the reflection, and only the second lets a generator remove it. ``--generator``
scores what a map is worth: the PSNR / level-free PSNR on ``--pairs`` of that run's generator (one
that learned to follow maps; no Level-net) given no map, this model's map and the true mask.

    python benchmarks/guidance.py --model runs/attl/aux --generator runs/attj/gan --pairs ../shared/data/val/nature20
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
from rrgan.level import thumbnail
from rrgan.metrics import level_free_psnr, psnr, quantize
from rrgan.models import Networks
from rrgan.models.level_net import toward_field


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


def map_use(generating: Networks, guiding: Networks, pairs) -> dict:
    """Mean PSNR and level-free PSNR of ``generating``'s generator (no Level-net) on ``pairs``
    given no map, ``guiding``'s last map and the level-free mask, beside identity:
    {"identity" | "no map" | "map" | "mask": (psnr, level_free_psnr)}."""
    scores = {"identity": [], "no map": [], "map": [], "mask": []}
    for pair in pairs:
        image, target = pair["input"], pair["target"]
        truth = quantize(target)[0].numpy()
        guidance = generating.guidance(image)
        own = guiding.guidance(image)["attention_maps"][..., -1:]
        maps = {"no map": tf.zeros_like(own), "map": own,
                "mask": losses.reflection_mask(image, target, level_free=True)}
        scores["identity"].append(_psnrs(image, truth))
        for key, attention in maps.items():
            output = generating.generate(image, dict(guidance, attention_maps=attention))["transmission"]
            scores[key].append(_psnrs(output, truth))
    return {key: tuple(np.mean(values, axis=0)) for key, values in scores.items()}


def level_map(networks: Networks, images: tf.Tensor) -> tf.Tensor:
    """The light the Level-net's field takes out of ``images`` (float [B, H, W, 3] in [0, 1]): the
    photo minus the photo under the field, meaned over channels at the field's cells and upsampled
    bilinearly; [B, H, W, 1], positive where the field darkens the photo."""
    field = tf.cast(networks.level_net(thumbnail(quantize(images), networks.level_thumbnail), training=False),
                    tf.float32)
    photo = tf.image.resize(images, tf.shape(field)[1:3], antialias=True)
    removed = tf.reduce_mean(photo - toward_field(photo, photo, field, 1.0), -1, keepdims=True)
    return tf.image.resize(removed, tf.shape(images)[1:3], "bilinear")


def _psnrs(image, truth: np.ndarray) -> tuple[float, float]:
    image = quantize(image)[0].numpy()
    return psnr(image, truth), level_free_psnr(image, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_crop_arguments(parser, sigmas=[1.0, 2.0, 5.0])
    parser.add_argument("--pairs", nargs="*", default=[], help="real pair folders to score as well")
    parser.add_argument("--pair-holdout", type=float, default=0.0, metavar="FRACTION",
                        help="score only the pairs that a run with data.pair_holdout=FRACTION held out of training")
    parser.add_argument("--generator", default=None, metavar="MODEL",
                        help="a run whose generator follows maps: score what the map is worth to it on --pairs")
    args = parser.parse_args()
    networks = load_networks(args.model, precision="float32")
    threshold = preset("cpu-long").loss.mask_threshold

    def attention_map(images):
        return networks.guidance(images)["attention_maps"][..., -1]

    mappers = {"the Attention-net's last map": attention_map}
    if networks.level_net is not None:
        mappers["the light the Level-net's field takes out"] = lambda images: level_map(networks, images)

    def scored(batches, mappers: dict, level_free: bool = False) -> dict:
        """Each mapper's map against the mask on ``batches``, read once: {name: map_scores}."""
        maps, masks = {name: [] for name in mappers}, []
        for batch in batches:
            for name, mapped in mappers.items():
                maps[name].append(np.ravel(mapped(batch["input"])))
            masks.append(np.ravel(losses.reflection_mask(batch["input"], batch["target"], threshold, level_free)))
        masks = np.concatenate(masks)
        return {name: map_scores(np.concatenate(values), masks) for name, values in maps.items()}

    print(f"{args.model or 'shipped'}: the Attention-net's last map, {args.crops} crops per row")
    for sigma in args.sigmas:
        print(f"sigma {sigma:g}: {_summary(scored(zhang_crops(args, sigma), {'map': attention_map})['map'])}")
    for folder in args.pairs:
        for name, scores in scored(_resized_pairs(folder, args.pair_holdout), mappers, level_free=True).items():
            print(f"{folder} (level-free mask), {name}: {_summary(scores)}")
    if args.generator and args.pairs:
        generating = load_networks(args.generator, precision="float32")
        for folder in args.pairs:
            use = map_use(generating, networks, _resized_pairs(folder, args.pair_holdout))
            print(f"{folder}, {args.generator}'s generator given each map (PSNR / level-free PSNR): "
                  + ", ".join(f"{key} {value[0]:.2f} / {value[1]:.2f}" for key, value in use.items()))


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
