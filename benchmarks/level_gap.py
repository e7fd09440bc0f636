"""How much of a model's distance to the targets is the photo's overall level: per set, PSNR of the
input and the output as they are, and after each is rescaled by the one gain that fits its target
best (an oracle), with the output/input brightness the model picked beside the true target/input.
A second oracle adds the difference to the target blurred at ``--smooth`` times the short side:
what is left is the detail, so the distance it closes is a smooth field (exposure, a veil of light).

    python benchmarks/level_gap.py ../shared/data/val/nature20 [--model WORKDIR_OR_SAVEDMODEL]

If the oracle lifts input and output alike, the model's local removal adds little and the level is
what is missing (README, "Where the gap ... is").
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.inference import load_model, remove_reflections
from rrgan.metrics import level_free_psnr, psnr


def smooth_corrected(image: np.ndarray, target: np.ndarray, fraction: float) -> np.ndarray:
    """``image`` plus its difference to ``target`` blurred at ``fraction`` of the short side (an oracle)."""
    x = image.astype(np.float64)
    field = cv2.GaussianBlur(target.astype(np.float64) - x, (0, 0), fraction * min(image.shape[:2]))
    return np.clip(np.round(x + field), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="pair folders (input/ + target/ or any layout rrgan reads)")
    parser.add_argument("--model", default=None, help="work dir, weights folder or SavedModel (default: shipped)")
    parser.add_argument("--smooth", type=float, default=0.1, help="the smooth oracle's blur, times the short side")
    args = parser.parse_args()
    model = load_model(args.model)
    for pair_set in (found for folder in args.folders for found in find_pair_sets(folder)):
        rows = []
        for pair in pair_set.pairs:
            image, target = read_rgb(pair.input), read_rgb(pair.target)
            output = remove_reflections(model, image)["transmission"]
            level = image.astype(np.float64).mean()
            rows.append((target.mean() / level, output.mean() / level, psnr(image, target), psnr(output, target),
                         level_free_psnr(image, target), level_free_psnr(output, target),
                         psnr(smooth_corrected(image, target, args.smooth), target),
                         psnr(smooth_corrected(output, target, args.smooth), target)))
        true_level, picked, *scores = np.array(rows).T
        print(f"{pair_set.root.name} ({len(rows)} pairs): "
              f"PSNR input {scores[0].mean():.2f} output {scores[1].mean():.2f} | "
              f"oracle gain: input {scores[2].mean():.2f} output {scores[3].mean():.2f} | "
              f"oracle smooth field: input {scores[4].mean():.2f} output {scores[5].mean():.2f} | "
              f"target/input {true_level.min():.2f}-{true_level.max():.2f}, "
              f"output/input {picked.min():.2f}-{picked.max():.2f}, r = {np.corrcoef(true_level, picked)[0, 1]:.2f}")


if __name__ == "__main__":
    main()
