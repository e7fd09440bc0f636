"""The Presence-net's probability that each photo holds a reflection, for the inputs and targets of
pair folders, as the whole-photo step computes it (``rrgan.level``), into a CSV that
gate_effect.py reads.

    python experiments/presence/judge_sets.py runs/presence40 [--checkpoint PATH] -o runs/eval/presence40.csv
"""

import argparse
from pathlib import Path

import pandas as pd
import tensorflow as tf

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.inference import load_networks
from rrgan.level import thumbnail
from rrgan.models.presence_net import presence

SETS = ["runs/eval/clean", "runs/eval/real89_holdout", "../shared/data/val/nature20",
        "../shared/data/val/sir2_solidobject", "runs/eval/synth_strong", "runs/eval/example"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--checkpoint", help="a training checkpoint to take the Presence-net from")
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    networks = load_networks(args.model)
    if args.checkpoint:
        tf.train.Checkpoint(presence_head=networks.presence_head).restore(args.checkpoint).expect_partial()

    def judged(path) -> float:
        small = thumbnail(read_rgb(path)[None], networks.level_thumbnail)
        return float(presence(networks.presence_net(small, training=False))[0, 0])

    rows = []
    for folder in args.sets:
        pairs = [pair for pair_set in find_pair_sets(folder) for pair in pair_set.pairs]
        rows += [{"set": Path(folder).name, "name": pair.input.stem, "p_input": judged(pair.input),
                  "p_target": judged(pair.target)} for pair in pairs]
        frame = pd.DataFrame(rows[-len(pairs):])
        print(f"{Path(folder).name}: {len(pairs)} pairs, p(input) median {frame.p_input.median():.2f} "
              f"(10 % {frame.p_input.quantile(0.1):.2f}), p(target) median {frame.p_target.median():.2f} "
              f"(90 % {frame.p_target.quantile(0.9):.2f})", flush=True)
    pd.DataFrame(rows).to_csv(args.output, index=False)


if __name__ == "__main__":
    main()
