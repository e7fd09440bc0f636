"""How well a Level-net's field alone fits the target's level of each real pair, the pairs its
training saw against those a ``data.pair_holdout`` kept out: a gap between them is the field
learning pairs by heart. Per pair, on the input's thumbnail moved all the way under the field (mix
1, as the level stage trains it): PSNR of 4x4 means against the target's (what the level loss
sees) and |log| of the mean brightness ratio. The held-out pairs of every set (about 180 for
glass400 and real89 at 0.15) judge the field on far more photos than real89's 12.

    python benchmarks/level_fit.py ../shared/data/train [--model WORKDIR_OR_WEIGHTS] [--csv per_pair.csv]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd
import tensorflow as tf

from rrgan.config import DataConfig
from rrgan.data.pipeline import check_pairs
from rrgan.inference import load_networks
from rrgan.level import thumbnail
from rrgan.losses import level_loss
from rrgan.models.level_net import toward_field


def field_fit(level_net, image: np.ndarray, target: np.ndarray, short_side: int) -> dict[str, float]:
    """One pair (uint8 [H, W, 3] each): PSNR of the level-loss means of the input and of the input
    under the field, against the target's, and |log| of each one's mean brightness over the target's."""
    small = thumbnail(tf.convert_to_tensor(image)[None], short_side)
    size = tf.shape(small)[1:3]
    goal = tf.image.resize(tf.cast(target[None], tf.float32) / 255.0, size, "area")
    output = tf.image.resize(tf.cast(level_net(small, training=False), tf.float32), size, "bilinear")
    fitted = tf.clip_by_value(toward_field(small, small, output, 1.0), 0.0, 1.0)

    def scores(x):
        return (-10.0 * math.log10(float(level_loss(x, goal, "mse"))),
                abs(math.log(float(tf.reduce_mean(x) / tf.reduce_mean(goal)))))

    (identity, identity_ratio), (field, field_ratio) = scores(small), scores(fitted)
    return {"identity": identity, "field": field, "identity_log_ratio": identity_ratio, "field_log_ratio": field_ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="pair folders (the --data of the Level-net's training)")
    parser.add_argument("--model", default=None, help="work dir or weights folder (default: shipped)")
    parser.add_argument("--pair-holdout", type=float, default=0.15, help="the training's data.pair_holdout")
    parser.add_argument("--csv", default=None, help="write the per-pair rows here")
    args = parser.parse_args()
    networks = load_networks(args.model)
    if networks.level_net is None:
        parser.error(f"{args.model or 'the shipped model'} has no Level-net")
    # Every pair is scored, whether a training filter would have left it out or not.
    config = DataConfig(pair_holdout=args.pair_holdout)
    rows = [{"set": check.pair_set, "pair": check.name, "held_out": check.held_out,
             **field_fit(networks.level_net, pair["input"].numpy(), pair["target"].numpy(), networks.level_thumbnail)}
            for check, pair in check_pairs(args.folders, config)]
    table = pd.DataFrame(rows)
    if args.csv:
        table.to_csv(args.csv, index=False)
    table["gain"] = table.field - table.identity
    summary = table.groupby(["set", "held_out"]).agg(
        pairs=("pair", "count"), identity=("identity", "mean"), field=("field", "mean"), gain=("gain", "mean"),
        field_log_ratio=("field_log_ratio", "mean"))
    print(summary.round(3).to_string())
    held, trained = (table[table.held_out == flag].gain.mean() for flag in (True, False))
    print(f"gain of the field: held-out {held:+.2f} dB, trained-on {trained:+.2f} dB ({len(table)} pairs)")


if __name__ == "__main__":
    main()
