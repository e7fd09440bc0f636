"""What a per-photo gate toward the input would do to the shipped model's scores: the output
I + g (M - I) for gates g from a detector's probabilities (presence_probe.csv), beside g = 1
(shipped) and the per-photo oracle. M is read from cache_outputs.py's cache.

    python experiments/presence/gate_effect.py runs/eval/presence_probe.csv runs/eval/cache/shipped_full
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.metrics import psnr

FOLDERS = {"clean": "runs/eval/clean", "real89_holdout": "runs/eval/real89_holdout",
           "nature20": "../shared/data/val/nature20", "sir2_solidobject": "../shared/data/val/sir2_solidobject",
           "synth_strong": "runs/eval/synth_strong", "example": "runs/eval/example"}


def blended(image, output, gate):
    return np.clip(np.round(image + gate * (output - image)), 0, 255)


def main() -> None:
    probe = pd.read_csv(sys.argv[1]).set_index(["set", "name"])
    cache = Path(sys.argv[2])
    def weighted(weight):  # the probability a head trained with positives weighing ``weight`` times more gives
        return lambda p: weight * p / (weight * p + 1.0 - p)

    gates = {"shipped": lambda p: 1.0, **{f"w{weight}": weighted(weight) for weight in (1, 2, 4, 8, 16)}}
    for key, folder in FOLDERS.items():
        rows = []
        for pair in (p for s in find_pair_sets(folder) for p in s.pairs):
            image = read_rgb(pair.input).astype(np.float32)
            target = read_rgb(pair.target).astype(np.float32)
            output = read_rgb(cache / key / f"{pair.input.stem}.png").astype(np.float32)
            p = probe.loc[(key, pair.input.stem), "p_input"]
            row = {"p": p}
            for name, gate in gates.items():
                out = blended(image, output, gate(p))
                row[name] = psnr(out, target) if key != "clean" else psnr(out, image)
                row[name + "_level"] = out.mean() / target.mean()
            difference, error = output - image, target - image
            row["oracle"] = psnr(blended(image, output, np.clip((difference * error).sum() /
                                                                (difference ** 2).sum(), 0, 1)), target)
            rows.append(row)
        frame = pd.DataFrame(rows).replace(np.inf, 100.0)
        summary = {name: round(frame[name].mean(), 2) for name in [*gates, "oracle"]}
        if key == "clean":
            summary.update({f"{name} median": round(frame[name].median(), 2) for name in gates})
            summary.update({f"{name} darker %": round(100 * (1 - frame[name + "_level"].mean()), 2) for name in gates})
        print(key, len(frame), summary, flush=True)


if __name__ == "__main__":
    main()
