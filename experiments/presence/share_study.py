"""Would a head trained on the share of the correction that each photo should keep beat the
Presence-net's "does it hold a reflection"? Per photo, at a short side of ``--size``: the pooled
features the Presence-net's head reads, its logit, and the three sums that give the gated output's
mean squared error for any share g, MSE(g) = a + 2 g b + g^2 c (a = |I - T|^2, b = (I - T).(M - I),
c = |M - I|^2; M the whole model's output without the gate), with the means of I and M.

    python experiments/presence/share_study.py cache -o runs/eval/share/train.npz --pairs ../shared/data/train \
        --pair-split train --targets-as-clean 3 --photos ../shared/data/photos --photo-split train --max-photos 800
    python experiments/presence/share_study.py cache -o runs/eval/share/holdout.npz --pairs runs/eval/clean ...
    python experiments/presence/share_study.py fit runs/eval/share/train.npz runs/eval/share/holdout.npz

``cache --model`` measures another model (a work dir or weights folder) the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets, find_photos
from rrgan.data.pipeline import brightness_ratio, held_out, held_out_pair
from rrgan.inference import load_networks
from rrgan.level import levelled_transmission, thumbnail
from rrgan.models.presence_net import HEAD, LEVEL_FEATURES, presence
from rrgan.training.presence_fit import PresenceRows, group_weights

FLOOR = 1e-5  # 50 dB: a photo left exactly as it should be counts as this


def _small(image: np.ndarray, short_side: int) -> np.ndarray:
    """uint8 [H, W, 3] area-scaled to ``short_side``, each side a multiple of 16 (the generator's
    stride), float32 in [0, 1]: every photo measured at one size, so the sets compare."""
    height, width = image.shape[:2]
    scale = short_side / min(height, width)
    size = [max(16, round(height * scale / 16) * 16), max(16, round(width * scale / 16) * 16)]
    return tf.image.resize(image[None].astype(np.float32) / 255.0, size, "area")[0].numpy()


class Measurer:
    """One photo and its target -> what ``fit`` needs, for the networks of ``model`` (None: shipped)."""

    def __init__(self, model: str | None):
        networks = load_networks(model, "auto")
        self.ungated = dataclasses.replace(networks, presence_net=None)
        self.networks = networks
        level = networks.level_net
        head = networks.presence_net.get_layer(HEAD)
        self.features = keras.Model(level.inputs[0], [level.get_layer(n).output for n in LEVEL_FEATURES])
        self.pooled = keras.Model(head.inputs, head.get_layer("pooled").output)

    def __call__(self, image: np.ndarray, target: np.ndarray) -> dict:
        small = thumbnail(tf.constant(np.round(image * 255).astype(np.uint8))[None], self.networks.level_thumbnail)
        pooled = self.pooled(self.features(small, training=False)).numpy()[0]
        logit = float(self.networks.presence_net(small, training=False)[0, 0])
        output = levelled_transmission(self.ungated, tf.constant(image[None])).numpy()[0].astype(np.float64)
        error, change = image - target, output - image
        return {"features": pooled, "logit": logit, "a": np.mean(error ** 2), "b": np.mean(error * change),
                "c": np.mean(change ** 2), "mean_input": image.mean(), "mean_output": output.mean(),
                "mean_target": target.mean()}


def _split(names: list[str], fraction: float, split: str, photos: bool) -> np.ndarray:
    if split == "all" or fraction == 0:
        return np.ones(len(names), bool)
    held = (held_out(tf.constant(names), fraction) if photos else held_out_pair(tf.constant(names), fraction)).numpy()
    return held if split == "holdout" else ~held


def cache(args) -> None:
    measure = Measurer(args.model)
    rows = []
    for folder in args.pairs:
        for pair_set in find_pair_sets(folder):
            pairs = list(pair_set.pairs)
            keep = _split([p.name for p in pairs], args.pair_holdout, args.pair_split, photos=False)
            pairs = [p for p, k in zip(pairs, keep) if k][:args.max_pairs]
            for i, pair in enumerate(pairs):
                image, target = (_small(read_rgb(path), args.size) for path in (pair.input, pair.target))
                if target.shape != image.shape:
                    continue
                ratio = float(brightness_ratio(image, target))
                if args.pair_split == "train" and not args.ratio[0] <= ratio <= args.ratio[1]:
                    continue
                rows.append({"set": pair_set.root.name, "name": pair.name, "kind": "pair", **measure(image, target)})
                if args.targets_as_clean and i % args.targets_as_clean == 0:
                    rows.append({"set": f"{pair_set.root.name}_target", "name": pair.name, "kind": "clean",
                                 **measure(target, target)})
            print(pair_set.root.name, len(pairs), flush=True)
    for folder in args.photos:
        photos = find_photos(folder)
        keep = _split([p.stem for p in photos], args.photo_holdout, args.photo_split, photos=True)
        photos = [p for p, k in zip(photos, keep) if k]
        photos = [photos[i] for i in np.random.default_rng(0).permutation(len(photos))[:args.max_photos]]
        for photo in photos:
            image = _small(read_rgb(photo), args.size)
            rows.append({"set": Path(folder).name, "name": photo.stem, "kind": "clean", **measure(image, image)})
        print(folder, len(photos), flush=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.output, **{key: np.array([row[key] for row in rows]) for key in rows[0]})


def psnr_of(data, share) -> np.ndarray:
    mse = data["a"] + 2 * share * data["b"] + share ** 2 * data["c"]
    return np.minimum(-10 * np.log10(np.maximum(mse, 1e-10)), 100.0)


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC of a score that should be higher for ``positive`` than for ``negative``."""
    higher = positive[:, None] > negative[None, :]
    return float(higher.mean() + 0.5 * (positive[:, None] == negative[None, :]).mean())


def separation(data: dict, clean_set: str = "clean") -> None:
    """How well the Presence-net's logit and measures of the model's own change tell each set's photos
    from the clean ones (ROC AUC)."""
    measures = {"presence logit": data["logit"], "change, mean square": data["c"],
                "change less its mean shift": data["c"] - (data["mean_output"] - data["mean_input"]) ** 2,
                "darkening": 1 - data["mean_output"] / data["mean_input"]}
    clean = data["set"] == clean_set
    for label, measure in measures.items():
        scores = {str(name): round(auc(measure[data["set"] == name], measure[clean]), 2)
                  for name in np.unique(data["set"][data["kind"] == "pair"])}
        print(f"AUC against {clean_set}, {label}: {scores}")


def set_weights(data: dict, clean_weight: float) -> np.ndarray:
    """Each cached row's weight (``group_weights``): every set counts the same within its kind, the
    clean rows ``clean_weight`` of the whole."""
    rows = PresenceRows(data["features"], (data["kind"] == "pair").astype(float), data["set"])
    return group_weights(rows, clean_weight)


def fit(args) -> None:
    train = dict(np.load(args.train))
    x = train["features"]
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    weight = set_weights(train, args.clean_weight)
    xv = tf.constant(x, tf.float32)
    a, b, c = (tf.constant(train[k], tf.float32) for k in "abc")
    w = tf.Variable(tf.zeros([x.shape[1], 1]))
    bias = tf.Variable(2.0)
    optimizer = keras.optimizers.Adam(0.01)
    wt = tf.constant(weight, tf.float32)
    for step in range(args.steps):
        with tf.GradientTape() as tape:
            share = tf.sigmoid(tf.matmul(xv, w)[:, 0] + bias)
            mse = a + 2 * share * b + share ** 2 * c
            loss = tf.reduce_sum(wt * tf.math.log(mse + args.floor)) + args.l2 * tf.reduce_sum(w ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, [w, bias]), [w, bias]))
        if step % 500 == 0:
            print(f"step {step}: loss {float(loss):.4f}")
    for path in args.holdout:
        data = dict(np.load(path))
        xs = (data["features"] - mean) / std
        share = 1 / (1 + np.exp(-(xs @ w.numpy()[:, 0] + float(bias.numpy()))))
        shipped = np.asarray(presence(data["logit"], args.odds))
        oracle = np.clip(-data["b"] / np.maximum(data["c"], 1e-12), 0, 1)
        for name in np.unique(data["set"]):
            m = data["set"] == name
            sums = {k: data[k][m] for k in "abc"}
            mean_input, mean_output = data["mean_input"][m], data["mean_output"][m]
            row = [f"{name:<22}{m.sum():>5}"]
            for label, g in (("none", np.ones(m.sum())), ("presence", shipped[m]), ("share", share[m]),
                             ("oracle", oracle[m])):
                darker = 1 - np.mean((mean_input + g * (mean_output - mean_input)) / data["mean_target"][m])
                scores = psnr_of(sums, g)
                row.append(f"{label} {scores.mean():6.2f} ({np.median(scores):5.1f}) {100 * darker:4.1f}%")
            print(" | ".join(row))
        separation(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("cache")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--model", default=None)
    c.add_argument("--pairs", nargs="*", default=[])
    c.add_argument("--photos", nargs="*", default=[])
    c.add_argument("--size", type=int, default=256)
    c.add_argument("--pair-split", choices=("train", "holdout", "all"), default="all")
    c.add_argument("--photo-split", choices=("train", "holdout", "all"), default="all")
    c.add_argument("--pair-holdout", type=float, default=0.15)
    c.add_argument("--photo-holdout", type=float, default=0.1)
    c.add_argument("--ratio", type=float, nargs=2, default=(0.1, 1.03))
    c.add_argument("--max-pairs", type=int, default=100_000)
    c.add_argument("--max-photos", type=int, default=100_000)
    c.add_argument("--targets-as-clean", type=int, default=0, help="every Nth pair's target also as a clean photo")
    f = commands.add_parser("fit")
    f.add_argument("train")
    f.add_argument("holdout", nargs="+")
    f.add_argument("--steps", type=int, default=3000)
    f.add_argument("--l2", type=float, default=1e-3)
    f.add_argument("--odds", type=float, default=16.0)
    f.add_argument("--clean-weight", type=float, default=0.5, help="the clean photos' share of the loss")
    f.add_argument("--floor", type=float, default=FLOOR)
    args = parser.parse_args()
    cache(args) if args.command == "cache" else fit(args)


if __name__ == "__main__":
    main()
