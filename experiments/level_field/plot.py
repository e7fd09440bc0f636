"""Bar chart of evaluate.py's --csv: PSNR gain over identity per set, and the clean photos' median PSNR.

    python experiments/level_field/plot.py runs/level/scores.csv b:runs/level/b e:runs/level/e/level_net_5000 \
        f:runs/level/f/level_net_3000 -o docs/level_net.png
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

SETS = ("real89_holdout", "nature20", "sir2_solidobject", "synth_strong")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("runs", nargs="+", help="LABEL:WEIGHTS, WEIGHTS as evaluate.py was given it")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    scores = pd.read_csv(args.csv, names=["weights", "set", "output", "psnr", "level_free", "median", "level"])
    scores["weights"] = scores["weights"].str.replace(".weights.h5", "", regex=False).str.removesuffix("/level_net")
    scores = scores.drop_duplicates(["weights", "set", "output"], keep="last")
    first = args.runs[0].split(":", 1)[1]
    bars = [("shipped (G)", first, "G")]
    for run in args.runs:
        label, weights = run.split(":", 1)
        bars += [(f"{label}: L", weights, "L"), (f"{label}: G+L/2", weights, "G+L/2")]

    def value(weights, name, output, column):
        row = scores[(scores.weights == weights) & (scores.set == name) & (scores.output == output)]
        return float(row[column].iloc[0]) if len(row) else float("nan")

    figure, (gains, clean) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(bars)
    for k, (label, weights, output) in enumerate(bars):
        xs = [i + (k - (len(bars) - 1) / 2) * width for i in range(len(SETS))]
        gains.bar(xs, [value(weights, s, output, "psnr") - value(weights, s, "identity", "psnr") for s in SETS],
                  width, label=label)
        clean.bar(k, value(weights, "clean", output, "median"), label=label)
    gains.set_xticks(range(len(SETS)), SETS)
    gains.set_ylabel("PSNR gain over the input, dB (full size)")
    gains.set_ylim(0, 2.0)
    gains.axhline(0, color="black", linewidth=0.8)
    gains.legend(fontsize=8, ncol=2, loc="upper left")
    clean.set_xticks([])
    clean.set_ylabel("clean photos: median PSNR(output, input), dB")
    clean.axhline(35, color="black", linestyle="--", linewidth=0.8)
    clean.set_ylim(25, 44)
    figure.tight_layout()
    figure.savefig(args.output, dpi=100)


if __name__ == "__main__":
    main()
