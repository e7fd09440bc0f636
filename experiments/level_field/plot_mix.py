"""Curves of score_package.py's CSV: each set's PSNR against the level mix (0: the generator alone),
and the clean photos' PSNR against themselves on a second panel.

    python experiments/level_field/plot_mix.py runs/level31/mix.csv -o docs/level_mix.png
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    table = pd.read_csv(args.csv)
    table = table[table.method != "identity"]
    table["mix"] = table.method.map(lambda method: 0.0 if method == "generator" else float(method.split()[1]))
    figure, (sets, clean) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2, 1]})
    for name, rows in table[table.set != "clean"].groupby("set", sort=False):
        rows = rows.sort_values("mix")
        sets.plot(rows.mix, rows.psnr - rows.psnr.iloc[0], marker="o", label=name)
    sets.axhline(0.0, color="gray", linewidth=0.8)
    sets.set(xlabel="model.level_mix (0: the generator alone)", ylabel="PSNR change over the generator, dB",
             title="each set, full size, all pairs")
    sets.legend(fontsize=8)
    rows = table[table.set == "clean"].sort_values("mix")
    clean.plot(rows.mix, rows.psnr, marker="o", color="black")
    clean.axhline(35.0, color="red", linestyle="--", linewidth=0.8, label="issue 31's bar (median)")
    clean.set(xlabel="model.level_mix", ylabel="PSNR(output, input), dB (mean)", title="clean photos")
    clean.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.output, dpi=110)
    print(args.output)


if __name__ == "__main__":
    main()
