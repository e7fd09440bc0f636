"""Plot validation gain against training crops seen, one line per run: the README's scaling figure.

Each argument is ``LABEL=WORKDIR`` (its ``validation.csv``), or ``LABEL=WORKDIR@STEP`` for a
decay branched off at STEP, whose log repeats its parent's up to there: only its own points are drawn.
Run from the project root:
    python docs/plot_scaling.py "stable rate=runs/w32" "decayed=runs/w32-d95-l1@9500" -o docs/scaling.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from rrgan.config import Config


def gains(workdir: Path) -> pd.DataFrame:
    """Mean PSNR gain over identity across the validation sets, per stage-2 step, with crops seen."""
    table = pd.read_csv(workdir / "validation.csv")
    table = table[table["stage"] == "gan"].assign(gain=lambda t: t["psnr"] - t["identity_psnr"])
    per_step = table.groupby("step")["gain"].mean().reset_index()
    batch = Config.load(workdir / "config.json").train.batch_size
    return per_step.assign(crops=per_step["step"] * batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="LABEL=WORKDIR[@STEP]")
    parser.add_argument("-o", "--output", default="docs/scaling.png")
    args = parser.parse_args()
    figure = Figure(figsize=(7, 4.2))
    axis = figure.subplots()
    for run in args.runs:
        label, _, path = run.partition("=")
        path, _, branch = path.partition("@")
        points = gains(Path(path))
        points = points[points["step"] > int(branch or 0)]
        style = {"marker": "o", "linestyle": "--"} if branch else {"marker": "."}
        axis.plot(points["crops"], points["gain"], label=label, **style)
    axis.set_xscale("log")
    axis.set_xlabel("training crops seen (128x128, stage 2)")
    axis.set_ylabel("mean PSNR gain over identity, dB\n(nature20 + sir2_solidobject subsets)")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.output, dpi=100)
    print(args.output)


if __name__ == "__main__":
    main()
