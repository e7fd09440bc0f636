"""How much of a model's distance to the targets is the photo's overall level: per set, PSNR of the
input and the output as they are, and after each is rescaled by the one gain that fits its target
best (an oracle), with the output/input brightness the model picked beside the true target/input.

    python benchmarks/level_gap.py ../shared/data/val/nature20 [--model WORKDIR_OR_SAVEDMODEL]

If the oracle lifts input and output alike, the model's local removal adds little and the level is
what is missing (README, "Where the gap ... is").
"""

from __future__ import annotations

import argparse

import numpy as np

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.inference import load_model, remove_reflections
from rrgan.metrics import level_free_psnr, psnr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="pair folders (input/ + target/ or any layout rrgan reads)")
    parser.add_argument("--model", default=None, help="work dir, weights folder or SavedModel (default: shipped)")
    args = parser.parse_args()
    model = load_model(args.model)
    for pair_set in (found for folder in args.folders for found in find_pair_sets(folder)):
        rows = []
        for pair in pair_set.pairs:
            image, target = read_rgb(pair.input), read_rgb(pair.target)
            output = remove_reflections(model, image)["transmission"]
            level = image.astype(np.float64).mean()
            rows.append((target.mean() / level, output.mean() / level, psnr(image, target), psnr(output, target),
                         level_free_psnr(image, target), level_free_psnr(output, target)))
        true_level, picked, *scores = np.array(rows).T
        print(f"{pair_set.root.name} ({len(rows)} pairs): "
              f"PSNR input {scores[0].mean():.2f} output {scores[1].mean():.2f} | "
              f"oracle gain: input {scores[2].mean():.2f} output {scores[3].mean():.2f} | "
              f"target/input {true_level.min():.2f}-{true_level.max():.2f}, "
              f"output/input {picked.min():.2f}-{picked.max():.2f}, r = {np.corrcoef(true_level, picked)[0, 1]:.2f}")


if __name__ == "__main__":
    main()
