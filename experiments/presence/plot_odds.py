"""The Presence-net's trade in one figure: per set, the PSNR change against no gate at each
``model.presence_odds``; and what clean photos keep (median PSNR against themselves, how much darker).

    python experiments/presence/plot_odds.py gate.csv -o docs/presence_odds.png
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gate_csv")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    frame = pd.read_csv(args.gate_csv, dtype={"odds": str})
    frame = frame[frame.odds != "oracle"]
    odds = [value for value in frame.odds.unique() if value != "none"]
    figure, (sets, clean) = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in frame[frame.set != "clean"].groupby("set", sort=False):
        means = rows.groupby("odds").psnr.mean()
        sets.plot([float(k) for k in odds], [means[k] - means["none"] for k in odds], "o-", label=name)
    sets.set(xscale="log", xlabel="model.presence_odds", ylabel="PSNR change against no gate (dB)",
             title="Sets with reflections")
    sets.axhline(0, color="grey", lw=0.8)
    sets.legend(fontsize=8)
    rows = frame[frame.set == "clean"]
    medians = rows.groupby("odds").psnr.median()
    darker = 100 * (1 - rows.groupby("odds")["level"].mean())
    clean.plot([float(k) for k in odds], [medians[k] for k in odds], "o-", color="tab:blue")
    clean.axhline(medians["none"], color="tab:blue", ls="--", lw=0.8)
    clean.set(xscale="log", xlabel="model.presence_odds", ylabel="median PSNR against the photo (dB; 100: unchanged)",
              title="Clean photos (dashed: no gate)")
    twin = clean.twinx()
    twin.plot([float(k) for k in odds], [darker[k] for k in odds], "s-", color="tab:red")
    twin.axhline(darker["none"], color="tab:red", ls="--", lw=0.8)
    twin.set_ylabel("darker on average (%)", color="tab:red")
    figure.tight_layout()
    figure.savefig(args.output, dpi=110)


if __name__ == "__main__":
    main()
