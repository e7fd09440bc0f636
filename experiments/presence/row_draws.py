"""Does the presence stage's head depend on which rows it is fitted on? Every real pair of the training
split (its input, its target, its shift and brightness ratio) and every training photo, cached once
on a model's Level-net features; then heads fitted on selections of them (a sample of the targets
and photos, as the stage took before, or all of them, with or without the pair filters), each judged
on gate_features' held-out cache at the odds that make the calibration photos 2 % darker.

    python experiments/presence/row_draws.py cache runs/rows/all.npz --model rrgan/pretrained \
        --pairs ../shared/data/train --photos ../shared/data/photos
    python experiments/presence/row_draws.py draws runs/rows/all.npz runs/eval/share/holdout.npz \
        runs/tail/clean.npz
"""

from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf
from gate_features import gate, report, shift_for

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets, find_photos
from rrgan.data.pipeline import held_out, held_out_pair, pair_measures
from rrgan.inference import load_networks
from rrgan.training.presence_fit import PooledFeatures, PresenceRows, fit_head

DRAWS = 6


def cache(args) -> None:
    pooled = PooledFeatures(load_networks(args.model))
    rows = []
    for pair_set in find_pair_sets(args.pairs):
        pairs = list(pair_set.pairs)
        pairs = [p for p, out in zip(pairs, held_out_pair(tf.constant([p.name for p in pairs]), 0.15).numpy())
                 if not out]
        for index, pair in enumerate(pairs):
            image, target = read_rgb(pair.input), read_rgb(pair.target)
            if image.shape != target.shape:
                continue
            measures = pair_measures({"input": tf.constant(image), "target": tf.constant(target)})
            common = {"name": pair.name, "index": index, "shift": float(measures["shift"]),
                      "ratio": float(measures["brightness_ratio"])}
            rows.append({"set": pair_set.root.name, "kind": "pair", "features": pooled(tf.constant(image)), **common})
            rows.append({"set": f"{pair_set.root.name}_target", "kind": "clean",
                         "features": pooled(tf.constant(target)), **common})
    photos = find_photos(args.photos)
    photos = [p for p, out in zip(photos, held_out(tf.constant([p.stem for p in photos]), 0.1).numpy()) if not out]
    for index, photo in enumerate(photos):
        rows.append({"set": "photos", "kind": "clean", "name": photo.stem, "index": index, "shift": 0.0,
                     "ratio": 1.0, "features": pooled(tf.constant(read_rgb(photo)))})
    np.savez(args.output, **{key: np.array([row[key] for row in rows]) for key in rows[0]})
    print(f"{args.output}: {len(rows)} rows")


def draws(args) -> None:
    rows, holdout, calibration = (dict(np.load(path)) for path in (args.rows, args.holdout, args.calibration))
    calibrating = held_out(tf.constant(calibration["name"]), 0.05).numpy()
    pair, photo = rows["kind"] == "pair", rows["set"] == "photos"
    target = np.char.endswith(rows["set"], "_target")
    ratio_ok = (rows["ratio"] >= 0.1) & (rows["ratio"] <= 1.03)
    shift_ok = rows["shift"] <= 1.0

    def judge(label, chosen):
        kernel, bias = fit_head(PresenceRows(rows["features"][chosen].astype(np.float64),
                                             pair[chosen].astype(float), rows["set"][chosen]))
        shift = shift_for(calibration, calibrating, calibration["features"][calibrating] @ kernel + bias)
        report(f"{label} ({chosen.sum()} rows)", holdout, gate(holdout["features"] @ kernel + bias, shift), "clean")

    for draw in range(DRAWS):
        photos = np.zeros(len(photo), bool)
        photos[np.random.default_rng(draw).choice(np.flatnonzero(photo), 800, replace=False)] = True
        every_third = rows["index"] % 3 == draw % 3
        judge(f"third targets from {draw % 3}, 800 photos ({draw})", (pair | target & every_third) & ratio_ok | photos)
    judge("every row, brightness filter", (pair | target) & ratio_ok | photo)
    judge("every row, both filters", (pair | target) & ratio_ok & shift_ok | photo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("cache")
    c.add_argument("output")
    c.add_argument("--model", required=True)
    c.add_argument("--pairs", required=True)
    c.add_argument("--photos", required=True)
    d = commands.add_parser("draws")
    d.add_argument("rows", help="this script's cache")
    d.add_argument("holdout", help="gate_features' held-out cache (clean photos and the sets judged)")
    d.add_argument("calibration", help="a cache of clean 384-px views (share_study cache --pairs CLEAN --size 384)")
    args = parser.parse_args()
    {"cache": cache, "draws": draws}[args.command](args)


if __name__ == "__main__":
    main()
