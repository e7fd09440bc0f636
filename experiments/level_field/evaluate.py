"""Score the level-net prototype at full size beside a cached generator output: the photo (identity),
the generator (G), the level field on the photo alone (L), and G with its low frequencies moved
all (G+L) or half (G+L/2) of the way to L's, at the level-net's cells (1/16 of the thumbnail), or
all the way at cells twice as large (G+L coarse).

    python experiments/level_field/evaluate.py runs/level/d/level_net.weights.h5 runs/eval/real89_holdout \
        ../shared/data/val/nature20 --cache runs/eval/cache/shipped --trainable-backbone [--csv scores.csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent))
from level_net import STRIDE, build_level_net, corrected, thumbnail_size  # noqa: E402

from rrgan.data.images import read_rgb  # noqa: E402
from rrgan.data.pairs import find_pair_sets  # noqa: E402
from rrgan.metrics import level_free_psnr, psnr  # noqa: E402

OUTPUTS = ("identity", "G", "L", "G+L", "G+L/2", "G+L coarse")


def lowpass(image: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    small = tf.image.resize(image[None], cells, "area")
    return tf.image.resize(small, image.shape[:2], "bilinear")[0].numpy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def outputs(model, image: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, ...]:
    level = corrected(model, image)
    cells = tuple(-(-side // STRIDE) for side in thumbnail_size(*image.shape[:2]))
    g = generated / 255.0
    change = lowpass(level, cells) - lowpass(g, cells)
    coarse = tuple(-(-c // 2) for c in cells)
    return (image, generated, to_uint8(level), to_uint8(g + change), to_uint8(g + 0.5 * change),
            to_uint8(g + lowpass(level, coarse) - lowpass(g, coarse)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--cache", default="runs/eval/cache/shipped")
    parser.add_argument("--trainable-backbone", action="store_true")
    parser.add_argument("--csv", default=None, help="append per-set means here")
    args = parser.parse_args()
    model = build_level_net(trainable_backbone=args.trainable_backbone)
    weights = Path(args.weights)
    model.load_weights(weights / "level_net.weights.h5" if weights.is_dir() else weights)
    for folder in args.folders:
        for pair_set in find_pair_sets(folder):
            rows = []
            for pair in pair_set.pairs:
                image, target = read_rgb(pair.input), read_rgb(pair.target)
                cached = Path(args.cache) / Path(folder).name / f"{pair.input.stem}.png"
                made = outputs(model, image, read_rgb(cached) if cached.exists() else image)
                rows.append([psnr(o, target) for o in made] + [level_free_psnr(o, target) for o in made]
                            + [o.mean() / image.mean() for o in made])
            r, n = np.array(rows), len(OUTPUTS)
            mean, median = r.mean(0), np.median(r, 0)
            print(f"{Path(folder).name} ({len(rows)}) " + " | ".join(
                f"{name}: {mean[k]:.2f} (LF {mean[n + k]:.2f}, median {median[k]:.2f}, level {mean[2 * n + k]:.3f})"
                for k, name in enumerate(OUTPUTS)), flush=True)
            if args.csv:
                with open(args.csv, "a", newline="") as file:
                    writer = csv.writer(file)
                    for k, name in enumerate(OUTPUTS):
                        writer.writerow([weights, Path(folder).name, name, f"{mean[k]:.3f}", f"{mean[n + k]:.3f}",
                                         f"{median[k]:.3f}", f"{mean[2 * n + k]:.4f}"])


if __name__ == "__main__":
    main()
