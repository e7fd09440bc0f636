"""Is the Presence-net limited by its features or by its training? A logistic head fitted directly
(L-BFGS, pair against clean, each set weighted equally) on share_study's cached rows: on the
Level-net's pooled features (the shipped head's own input), on ImageNet EfficientNet-Lite0's (mean
and spread of its 4 stages at the cache's size), or on both; each set's PSNR with that gate at the
odds that make the clean photos 2 % darker, the odds chosen two ways: on the held-out clean photos
themselves, and on the training photos' out-of-fold logits (no held-out photo seen).

    python experiments/presence/gate_features.py cache runs/eval/share/train.npz ../shared/data/train \
        --photos ../shared/data/photos
    python experiments/presence/gate_features.py cache runs/eval/share/holdout.npz runs/eval/clean \
        runs/eval/real89_holdout ../shared/data/val runs/eval/synth_strong runs/eval/example runs/eval/clean_targets
    python experiments/presence/gate_features.py fit runs/eval/share/train.npz runs/eval/share/holdout.npz

``head`` scores trained heads on the same caches; ``weighting`` compares weightings of the training
rows; ``export`` writes a weights folder with the head fitted on the Level-net's features and its
odds calibrated on half of the held-out clean photos:

    python experiments/presence/share_study.py cache -o runs/eval/share/clean384.npz --pairs runs/eval/clean --size 384
    python experiments/presence/gate_features.py export runs/eval/share/train.npz runs/eval/share/clean384.npz \
        --model rrgan/pretrained -o runs/fitted
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf
from share_study import _small, auc, psnr_of, set_weights

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets, find_photos
from rrgan.data.pipeline import held_out
from rrgan.export import save_weights
from rrgan.inference import load_config, load_networks
from rrgan.models.backbone import backbone_features
from rrgan.models.presence_net import HEAD, presence, presence_head
from rrgan.training.presence_fit import DARKER, calibrated_odds, fit_logistic

FOLDS = 5


def _lite0_path(cache: str) -> Path:
    return Path(cache).with_suffix(".lite0.npy")


def cache(args) -> None:
    """Lite0's pooled features for each row of ``args.cache``, found by (set, name) in the folders."""
    index = {}
    for folder in args.folders:
        for pair_set in find_pair_sets(folder):
            for pair in pair_set.pairs:
                index[(pair_set.root.name, pair.name)] = pair.input
                index[(pair_set.root.name + "_target", pair.name)] = pair.target
    for folder in args.photos:
        index.update({(Path(folder).name, photo.stem): photo for photo in find_photos(folder)})
    rows = np.load(args.cache)
    net = backbone_features("efficientnet_lite0", 4, "lite0")
    features = []
    for i, key in enumerate(zip(rows["set"], rows["name"])):
        stages = net(_small(read_rgb(index[key]), args.size)[None], training=False)
        features.append(np.concatenate([np.r_[np.mean(s, (0, 1, 2)), np.std(s, (0, 1, 2))] for s in stages]))
        if i % 200 == 0:
            print(f"{i}/{len(rows['set'])}", flush=True)
    np.save(_lite0_path(args.cache), np.stack(features))


def fitted_logits(train_x, y, weight, l2, x):
    kernel, bias = fit_logistic(train_x, y, weight, l2)
    return x @ kernel + bias


def darker(data: dict, rows: np.ndarray, gate: np.ndarray) -> float:
    mean_input, mean_output = data["mean_input"][rows], data["mean_output"][rows]
    return 1 - np.mean((mean_input + gate * (mean_output - mean_input)) / data["mean_target"][rows])


def gate(logit: np.ndarray, shift: float) -> np.ndarray:
    """The share of the correction kept: the Presence-net's ``presence`` with odds e^shift."""
    return np.asarray(presence(logit, np.exp(shift)))


def shift_for(data: dict, rows: np.ndarray, logit: np.ndarray) -> float:
    """The log odds at which the clean photos ``rows`` come back DARKER on average (the presence stage's
    ``calibrated_odds``)."""
    darkening = 1 - data["mean_output"][rows] / data["mean_input"][rows]
    return float(np.log(calibrated_odds(logit, darkening, DARKER)))


def report(label: str, holdout: dict, share: np.ndarray, clean_set: str) -> None:
    """One line: how much darker the clean photos come out with the gate ``share``, and each set's
    PSNR (the clean photos' median, the others' mean)."""
    clean, scores = holdout["set"] == clean_set, []
    for name in dict.fromkeys(holdout["set"]):
        rows = holdout["set"] == name
        psnr = psnr_of({k: holdout[k][rows] for k in "abc"}, share[rows])
        scores.append(f"{name} {np.median(psnr) if name == clean_set else psnr.mean():.2f}")
    print(f"{label:<34} {100 * darker(holdout, clean, share[clean]):.1f}% darker | " + " | ".join(scores))


def trained_heads(args) -> None:
    """The heads of trained models (work dirs or weights folders) on the cached rows: each one's AUC
    against the clean photos, and the gate at the model's own odds, at the odds that make the
    training photos 2 % darker, and at the held-out clean photos' own (an optimistic bound)."""
    train, holdout = dict(np.load(args.train)), dict(np.load(args.holdout))
    clean, photos = holdout["set"] == args.clean_set, train["set"] == args.photo_set
    report("no gate", holdout, np.ones(len(clean)), args.clean_set)
    for model in args.models:
        networks = load_networks(model)
        kernel, bias = networks.presence_net.get_layer(HEAD).get_layer("presence_logit").get_weights()
        logit, train_logit = (rows["features"] @ kernel[:, 0] + bias[0] for rows in (holdout, train))
        aucs = {str(s): round(auc(logit[holdout["set"] == s], logit[clean]), 2)
                for s in dict.fromkeys(holdout["set"]) if s != args.clean_set}
        print(f"{model}: AUC against {args.clean_set} {aucs}")
        report(f"  own odds {networks.presence_odds:g}", holdout, gate(logit, np.log(networks.presence_odds)),
               args.clean_set)
        report("  training odds", holdout, gate(logit, shift_for(train, photos, train_logit[photos])), args.clean_set)
        if args.calib:
            calib = dict(np.load(args.calib))
            calib_logit = calib["features"] @ kernel[:, 0] + bias[0]
            odds = np.exp(shift_for(calib, np.ones(len(calib_logit), bool), calib_logit))
            report(f"  calibration odds {odds:.3g}", holdout, gate(logit, np.log(odds)), args.clean_set)
        report("  held-out odds", holdout, gate(logit, shift_for(holdout, clean, logit[clean])), args.clean_set)


def fit(args) -> None:
    train, holdout = dict(np.load(args.train)), dict(np.load(args.holdout))
    y = (train["kind"] == "pair").astype(float)
    weight = set_weights(train, 0.5)
    features = {"level": (train["features"], holdout["features"])}
    if _lite0_path(args.train).exists():
        lite = np.load(_lite0_path(args.train)), np.load(_lite0_path(args.holdout))
        features |= {"lite0": lite, "both": (np.c_[train["features"], lite[0]], np.c_[holdout["features"], lite[1]])}
    sets = list(dict.fromkeys(holdout["set"]))
    clean, photos = holdout["set"] == args.clean_set, train["set"] == args.photo_set
    fold = np.random.default_rng(0).integers(0, FOLDS, len(y))

    def line(label, share):
        report(label, holdout, share, args.clean_set)

    line("no gate", np.ones(len(clean)))
    line("shipped head, odds 16", gate(holdout["logit"], np.log(16.0)))
    line("shipped head, held-out odds", gate(holdout["logit"], shift_for(holdout, clean, holdout["logit"][clean])))
    for name, (train_x, holdout_x) in features.items():
        for l2 in args.l2:
            logit = fitted_logits(train_x, y, weight, l2, holdout_x)
            out_of_fold = np.zeros(len(y))
            for k in range(FOLDS):
                inside = fold != k
                out_of_fold[~inside] = fitted_logits(train_x[inside], y[inside], weight[inside], l2, train_x[~inside])
            aucs = {str(s): round(auc(logit[holdout["set"] == s], logit[clean]), 2)
                    for s in sets if s != args.clean_set}
            print(f"{name} l2={l2}: AUC against {args.clean_set} {aucs}")
            line(f"  {name} l2={l2}, held-out odds", gate(logit, shift_for(holdout, clean, logit[clean])))
            line(f"  {name} l2={l2}, training odds", gate(logit, shift_for(train, photos, out_of_fold[photos])))


def export(args) -> None:
    """A weights folder: the networks of ``args.model`` with the head fitted directly on the training
    cache (the Level-net's features, each set weighted equally) and the odds that make the
    calibration photos (the clean photos of ``args.calibration_cache`` in ``held_out(name, args.calibration)``)
    DARKER on average. The clean-photo check's other photos choose nothing."""
    train, clean = dict(np.load(args.train)), dict(np.load(args.calibration_cache))
    kernel, bias = fit_logistic(train["features"], (train["kind"] == "pair").astype(float), set_weights(train, 0.5),
                            args.l2)
    rows = held_out(tf.constant(clean["name"]), args.calibration).numpy()
    odds = float(np.exp(shift_for(clean, rows, clean["features"][rows] @ kernel + bias)))
    networks, config = load_networks(args.model), load_config(args.model)
    presence_head(networks.presence_net).get_layer("presence_logit").set_weights(
        [kernel[:, None].astype(np.float32), np.array([bias], np.float32)])
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, presence_odds=round(odds, 2)))
    save_weights(networks, config, args.output)
    print(f"{args.output}: the head fitted on {len(train['kind'])} rows, odds {odds:.2f} from {rows.sum()} "
          "calibration photos")


def row_weights(train: dict) -> dict[str, np.ndarray]:
    """The ways of weighing the training rows that ``weighting`` compares: each set alike (what
    ``export`` fits with), every row alike, and each half of that, the pairs' targets left out."""
    pair, target = train["kind"] == "pair", np.char.endswith(train["set"].astype(str), "_target")

    def classes_halved(weight):
        return np.where(pair, 0.5 * weight / weight[pair].sum(), 0.5 * weight / weight[~pair].sum())

    sets_alike, rows_alike = set_weights(train, 0.5), np.ones(len(pair))
    return {"each set alike (export)": sets_alike, "every row alike": rows_alike / len(pair),
            "every row alike, classes halved": classes_halved(rows_alike),
            "pair sets alike, clean rows alike": np.where(pair, sets_alike, 0.5 / (~pair).sum()),
            "pair rows alike, clean sets alike": np.where(pair, 0.5 / pair.sum(), sets_alike),
            "each set alike, no targets": classes_halved(np.where(target, 0.0, sets_alike))}


def weighting(args) -> None:
    """Which part of the export's weighting matters: the head fitted under each of ``row_weights``,
    judged on the cached rows at the odds that make the holdout's calibration photos DARKER."""
    train = dict(np.load(args.train))
    parts = [dict(np.load(path)) for path in args.holdout]
    holdout = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    clean = holdout["set"] == args.clean_set
    calibration = clean & held_out(tf.constant(holdout["name"]), args.calibration).numpy()
    y = (train["kind"] == "pair").astype(float)
    report("no gate", holdout, np.ones(len(clean)), args.clean_set)
    for label, weight in row_weights(train).items():
        logit = fitted_logits(train["features"], y, weight, args.l2, holdout["features"])
        aucs = {str(s): round(auc(logit[holdout["set"] == s], logit[clean]), 2)
                for s in dict.fromkeys(holdout["set"]) if s != args.clean_set}
        shift = shift_for(holdout, calibration, logit[calibration])
        print(f"{label}: AUC against {args.clean_set} {aucs}")
        report(f"  odds {np.exp(shift):.3g}", holdout, gate(logit, shift), args.clean_set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("cache")
    c.add_argument("cache", help="a share_study cache (.npz); Lite0's features go beside it (.lite0.npy)")
    c.add_argument("folders", nargs="+", help="the pair folders its rows came from")
    c.add_argument("--photos", nargs="*", default=[])
    c.add_argument("--size", type=int, default=256, help="the cache's short side")
    f = commands.add_parser("fit")
    f.add_argument("train")
    f.add_argument("holdout")
    f.add_argument("--l2", type=float, nargs="+", default=(0.0003, 0.001, 0.003, 0.01, 0.1))
    f.add_argument("--clean-set", default="clean")
    f.add_argument("--photo-set", default="photos")
    h = commands.add_parser("head", help="score trained heads (hidden=0) on the caches")
    h.add_argument("train")
    h.add_argument("holdout")
    h.add_argument("models", nargs="+", help="work dirs or weights folders")
    h.add_argument("--clean-set", default="clean")
    h.add_argument("--photo-set", default="photos")
    h.add_argument("--calib", help="a cache of clean photos like the check's, not held out: odds for 2 %% on them")
    e = commands.add_parser("export", help="write a weights folder with the head fitted and the odds calibrated")
    e.add_argument("train", help="the training cache the head is fitted on")
    e.add_argument("calibration_cache", help="a cache of clean photos (share_study cache --pairs CLEAN)")
    e.add_argument("--model", required=True, help="work dir or weights folder whose networks the head joins")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--l2", type=float, default=0.0003)
    e.add_argument("--calibration", type=float, default=0.05, help="held_out(name, this) of the clean photos")
    w = commands.add_parser("weighting", help="fit the head under several weightings of the training rows")
    w.add_argument("train", help="the training cache")
    w.add_argument("holdout", nargs="+", help="caches of held-out rows, the clean photos among them")
    w.add_argument("--clean-set", default="clean")
    w.add_argument("--l2", type=float, default=0.0003)
    w.add_argument("--calibration", type=float, default=0.05, help="held_out(name, this) of the clean photos")
    args = parser.parse_args()
    {"cache": cache, "fit": fit, "head": trained_heads, "export": export, "weighting": weighting}[args.command](args)


if __name__ == "__main__":
    main()
