"""Ceiling of a learned mix: the shipped generator's output G moved a (L - G) at the field's cells,
a chosen per cell / per photo against the target (oracles), beside the fixed mixes 0.5 and 1 and
the target's own cells ("lowfreq"). G is read from cache_outputs.py's cache.

    python experiments/level_field/oracle_mix.py runs/eval/real89_holdout ../shared/data/val/nature20
"""

import sys
from pathlib import Path

import pandas as pd
import tensorflow as tf

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.inference import load_networks
from rrgan.level import thumbnail_shape
from rrgan.metrics import psnr
from rrgan.working_size import at_working_size

CACHE = Path("runs/eval/cache/shipped")


def cells_of(image, cells):
    return tf.image.resize(tf.cast(image, tf.float32)[None], cells, antialias=True) / 255.0


def best_mix(moved, wanted, axis=None):
    """The share a in [0, 1] of ``moved`` that brings it closest to ``wanted`` (least squares)."""
    share = tf.reduce_sum(moved * wanted, axis, keepdims=True) / (tf.reduce_sum(moved * moved, axis, keepdims=True)
                                                                    + 1e-8)
    return tf.clip_by_value(share, 0.0, 1.0)


def scores(networks, image, generated, target) -> dict:
    height, width = image.shape[:2]
    size = thumbnail_shape(height, width, networks.level_thumbnail)
    thumbnail = tf.image.resize(tf.cast(image, tf.float32)[None], size, "area") / 255.0
    field = tf.cast(networks.level_net(thumbnail, training=False), tf.float32)
    cells = tf.shape(field)[1:3]
    levelled = cells_of(image, cells) * tf.exp(field[..., :3]) + field[..., 3:]
    current, wanted = cells_of(generated, cells), cells_of(target, cells)
    move = levelled - current
    candidates = {"0.5": current + 0.5 * move, "1": levelled, "lowfreq": wanted,
                  "cell": current + best_mix(move, wanted - current, -1) * move,
                  "image": current + best_mix(move, wanted - current) * move}
    row = {"G": psnr(generated, target), "I": psnr(image, target)}
    for name, cell_levels in candidates.items():
        output = at_working_size(lambda small, to=cell_levels: to, tf.constant(generated)[None], cells)[0][0]
        row[name] = psnr(output.numpy(), target)
    return row


def main() -> None:
    networks = load_networks("rrgan/pretrained", "auto")
    for folder in sys.argv[1:]:
        rows = [scores(networks, read_rgb(pair.input), read_rgb(CACHE / Path(folder).name / f"{pair.input.stem}.png"),
                       read_rgb(pair.target))
                for pair_set in find_pair_sets(folder) for pair in pair_set.pairs]
        print(Path(folder).name, len(rows), pd.DataFrame(rows).mean().round(2).to_dict(), flush=True)


if __name__ == "__main__":
    main()
