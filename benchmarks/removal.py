"""How much of a reflection the generator takes out, apart from the photo's level: synthetic crops of
the held-out photos, made as training makes them (``cpu-long``'s data section, ``--set`` to change
it), blended by the Zhang et al. recipe at one strength and one blur per row. PSNR and level-free
PSNR of the input and the output against the transmission.

    python benchmarks/removal.py [--model WORKDIR_OR_WEIGHTS] [--photos ../shared/data/photos]

On real pairs, PSNR mixes removal with the level a model picks (``level_gap.py``) and the pairs'
own exposure. Here the layers are known and the level is fitted away, so a level-free gain is
removal. The blur is what tells the layers apart: a sharp reflection (small sigma) is the hard
case, the README's example has sigma 2. Crops are what the generator trains on; the Level-net and
Presence-net see whole photos and are left out.
"""

from __future__ import annotations

import argparse
from typing import Callable, Iterable

import numpy as np
import tensorflow as tf

from rrgan.config import preset
from rrgan.data.pipeline import holdout_crops
from rrgan.inference import load_networks
from rrgan.metrics import level_free_psnr, psnr, quantize


def add_crop_arguments(parser: argparse.ArgumentParser, sigmas: list[float]) -> None:
    """The options of the benchmarks on these crops (this one and ``guidance.py``): the model, the
    photos, and the crops' blend, one row per blur in ``sigmas``."""
    parser.add_argument("--model", default=None, help="work dir or weights folder (default: shipped)")
    parser.add_argument("--photos", default="../shared/data/photos", help="photos; their held-out share is used")
    parser.add_argument("--sigmas", type=float, nargs="+", default=sigmas,
                        help="blur of the reflection, pixels at crop size, one row each")
    parser.add_argument("--strength", type=float, default=0.6, help="reflection strength (the example's: 0.6)")
    parser.add_argument("--crops", type=int, default=200, help="crops per row (batches of 8)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="data config override")


def zhang_crops(args: argparse.Namespace, sigma: float) -> tf.data.Dataset:
    """``args.crops`` held-out crops in batches of 8, the reflection blended by the Zhang recipe at
    blur ``sigma`` and ``args.strength``, on ``cpu-long``'s data section (``args.set`` changes it)."""
    data = preset("cpu-long").override([
        "data.synthesis.recipes=zhang", f"data.synthesis.zhang_sigma={sigma},{sigma}",
        f"data.synthesis.reflection_strength={args.strength},{args.strength}", "data.clean_fraction=0",
        *args.set]).data
    return holdout_crops([args.photos], data).batch(8).take(-(-args.crops // 8))


def removal_scores(remove: Callable[[tf.Tensor], tf.Tensor], batches: Iterable[dict]) -> np.ndarray:
    """[N, 4] per crop: PSNR of the input and of ``remove``'s output against the target, then their
    level-free PSNR; on the uint8 values a saved photo would have."""
    rows = []
    for batch in batches:
        images, targets = quantize(batch["input"]).numpy(), quantize(batch["target"]).numpy()
        outputs = quantize(remove(batch["input"])).numpy()
        rows += [(psnr(image, target), psnr(output, target), level_free_psnr(image, target),
                  level_free_psnr(output, target)) for image, target, output in zip(images, targets, outputs)]
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_crop_arguments(parser, sigmas=[1.0, 2.0, 3.0, 5.0])
    args = parser.parse_args()
    networks = load_networks(args.model, precision="auto")

    def remove(images):
        return networks.remove_reflection(images)["transmission"]

    print(f"{args.model or 'shipped'}: {args.crops} crops per row, Zhang recipe, strength {args.strength}")
    for sigma in args.sigmas:
        scores = removal_scores(remove, zhang_crops(args, sigma))
        psnr_in, psnr_out, free_in, free_out = np.where(np.isinf(scores), np.nan, scores).T
        print(f"sigma {sigma:g}: PSNR {np.nanmean(psnr_in):.2f} -> {np.nanmean(psnr_out):.2f} dB, "
              f"level-free {np.nanmean(free_in):.2f} -> {np.nanmean(free_out):.2f} dB "
              f"(removal {np.nanmean(free_out - free_in):+.2f} dB)")


if __name__ == "__main__":
    main()
