"""What the Presence-net's gate does to a model's scores at each ``model.presence_odds``: the output
I + g (M - I), g the probability (judge_sets.py's CSV) with the odds of a reflection multiplied,
beside g = 1 (no gate) and the per-photo oracle g. M is the model's output without the gate, read
from cache_outputs.py's cache; clean photos are scored against themselves.

    python experiments/presence/gate_effect.py runs/eval/presence42.csv runs/eval/cache/shipped_full -o gate.csv

``--calibration F`` adds the odds that make the clean photos of the keyed-hash split ``held_out(name, F)``
2 % darker on average, and scores the other clean photos apart (set ``clean_check``): the odds are
chosen on photos the check does not count.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from gate_features import shift_for

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.data.pipeline import held_out
from rrgan.metrics import psnr

FOLDERS = {"clean": "runs/eval/clean", "real89_holdout": "runs/eval/real89_holdout",
           "nature20": "../shared/data/val/nature20", "sir2_solidobject": "../shared/data/val/sir2_solidobject",
           "synth_strong": "runs/eval/synth_strong", "example": "runs/eval/example"}
ODDS = (1, 2, 4, 8, 16, 32)


def blended(image, output, gate):
    return np.clip(np.round(image + gate * (output - image)), 0, 255)


def odds_for(judged: pd.DataFrame, cache: Path, fraction: float) -> tuple[float, set]:
    """The odds that make the clean photos of the calibration split 2 % darker on average
    (gate_features.shift_for on their full-size means), and their names."""
    names = [pair.input.stem for s in find_pair_sets(FOLDERS["clean"]) for pair in s.pairs]
    chosen = [name for name, held in zip(names, held_out(tf.constant(names), fraction).numpy()) if held]
    means = {kind: np.array([read_rgb(folder / f"{name}.png").astype(np.float64).mean() for name in chosen])
             for kind, folder in (("mean_input", Path(FOLDERS["clean"]) / "input"), ("mean_output", cache / "clean"))}
    p = np.clip(judged.loc[[("clean", name) for name in chosen], "p_input"].to_numpy(), 1e-7, 1 - 1e-7)
    shift = shift_for({**means, "mean_target": means["mean_input"]}, np.ones(len(chosen), bool), np.log(p / (1 - p)))
    return float(np.exp(shift)), set(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("judged")
    parser.add_argument("cache", type=Path)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--odds", type=float, nargs="*", default=ODDS)
    parser.add_argument("--calibration", type=float, default=0.0, help="share of photos (keyed hash) for the odds")
    args = parser.parse_args()
    judged = pd.read_csv(args.judged).set_index(["set", "name"])
    odds, calibration = list(args.odds), set()
    if args.calibration:
        calibrated, calibration = odds_for(judged, args.cache, args.calibration)
        print(f"odds {calibrated:.4g} make the {len(calibration)} calibration photos 2 % darker")
        odds.append(calibrated)
    gates = {"none": lambda p: 1.0, **{f"{k:.4g}": lambda p, k=k: k * p / (k * p + 1.0 - p) for k in odds}}
    rows = []
    for key, folder in FOLDERS.items():
        for pair in (p for s in find_pair_sets(folder) for p in s.pairs):
            label = "clean_check" if key == "clean" and calibration and pair.input.stem not in calibration else key
            image = read_rgb(pair.input).astype(np.float32)
            target = image if key == "clean" else read_rgb(pair.target).astype(np.float32)
            output = read_rgb(args.cache / key / f"{pair.input.stem}.png").astype(np.float32)
            p = judged.loc[(key, pair.input.stem), "p_input"]
            for odds, gate in gates.items():
                out = blended(image, output, gate(p))
                rows.append({"set": label, "name": pair.input.stem, "odds": odds, "psnr": min(psnr(out, target), 100.0),
                             "level": out.mean() / target.mean()})
            difference, error = output - image, target - image
            oracle = np.clip((difference * error).sum() / max((difference ** 2).sum(), 1e-8), 0, 1)
            rows.append({"set": label, "name": pair.input.stem, "odds": "oracle",
                         "psnr": min(psnr(blended(image, output, oracle), target), 100.0),
                         "level": blended(image, output, oracle).mean() / target.mean()})
    frame = pd.DataFrame(rows)
    frame.to_csv(args.output, index=False)
    summary = frame.groupby(["set", "odds"], sort=False).agg(psnr=("psnr", "mean"), median=("psnr", "median"),
                                                             level=("level", "mean"))
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
