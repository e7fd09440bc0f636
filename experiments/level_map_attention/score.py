"""A probe checkpoint's raw and EMA generator given the Level-net's light map (as it trained), its own
Attention-net's map, or none: level-free removal on benchmarks/removal.py's crops, and PSNR /
level-free PSNR on real pairs at a long side of 512 and on the README example, without and with the
shipped model's whole-photo step (its Level-net and Presence-net) after the generator.

    PYTHONPATH=experiments/level_map_attention \
        python experiments/level_map_attention/score.py WORKDIR/checkpoints/ckpt-N [--pairs-only]

``--pairs-only`` skips the crops. The README example is read as a pair folder, ``runs/eval/example``
(docs/experiments.md: its input, rrgan/examples/window.jpg, against docs/window_clean.jpg).
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from level_map import level_attention

sys.path.insert(0, "benchmarks")
from guidance import _resized_pairs  # noqa: E402

from rrgan import checkpoints  # noqa: E402
from rrgan.config import preset  # noqa: E402
from rrgan.data.pipeline import holdout_crops  # noqa: E402
from rrgan.inference import load_config, load_networks  # noqa: E402
from rrgan.level import level_step  # noqa: E402
from rrgan.metrics import level_free_psnr, psnr, quantize  # noqa: E402
from rrgan.models import build_generator, build_networks  # noqa: E402

path = sys.argv[1]
config = load_config(Path(path).parents[1]).model
networks = build_networks(config)
average = build_generator(config, name="generator_ema")
checkpoints.restore_networks(path, networks, average)
shipped = load_networks(None, "float32")  # its Level-net: the one the probe trained with (frozen)
generators = {"raw": networks.generator, "ema": average}


def guided(image):
    """The probe's edge map and the three attention maps it is scored with, from one guidance pass."""
    guidance = networks.guidance(image)
    own = guidance["attention_maps"][..., -1:]
    return guidance["edge"], {"level map": level_attention(shipped, image), "own map": own,
                              "none": tf.zeros_like(own)}


def psnrs(output, target):
    """[(PSNR, level-free PSNR)] of uint8 ``output`` against float ``target``, per image."""
    return [(psnr(o, t), level_free_psnr(o, t)) for o, t in zip(output.numpy(), quantize(target).numpy())]


def scored(image, target, edge, attention, generator):
    """The generator's output alone and after the shipped whole-photo step: two lists of ``psnrs``."""
    output = quantize(generator([image, edge, attention])["transmission"])
    return psnrs(output, target), psnrs(level_step(shipped, quantize(image), output), target)


for sigma in (1.0, 2.0, 5.0) if "--pairs-only" not in sys.argv else ():
    data = preset("cpu-long").override(["data.synthesis.recipes=zhang", f"data.synthesis.zhang_sigma={sigma},{sigma}",
                                        "data.synthesis.reflection_strength=0.6,0.6", "data.clean_fraction=0"]).data
    gains = {}
    for batch in holdout_crops(["../shared/data/photos"], data).batch(8).take(25):
        image, target = batch["input"], batch["target"]
        edge, maps = guided(image)
        identity = [free for _, free in psnrs(quantize(image), target)]
        for label, attention in maps.items():
            for name, generator in generators.items():
                output = quantize(generator([image, edge, attention])["transmission"])
                gains.setdefault(f"{name}, {label}", []).extend(
                    free - base for (_, free), base in zip(psnrs(output, target), identity))
    print(f"crops, sigma {sigma:g}: level-free gain " + ", ".join(
        f"{key} {np.nanmean(np.where(np.isinf(g), np.nan, g)):+.2f}" for key, g in gains.items()), flush=True)

folders = [("../shared/data/train/real89", 0.15, None), ("../shared/data/val/nature20", 0.0, None),
           ("../shared/data/val/sir2_solidobject", 0.0, 40), ("runs/eval/example", 0.0, None)]
for folder, holdout, limit in folders:
    rows = {}
    for n, pair in enumerate(_resized_pairs(folder, holdout)):
        if limit is not None and n >= limit:
            break
        image, target = pair["input"], pair["target"]
        rows.setdefault("identity", []).extend(psnrs(quantize(image), target))
        edge, maps = guided(image)
        for label, attention in maps.items():
            for name, generator in generators.items():
                alone, stepped = scored(image, target, edge, attention, generator)
                rows.setdefault(f"{name}, {label}", []).extend(alone)
                rows.setdefault(f"{name}, {label}, whole-photo step", []).extend(stepped)
        model = level_step(shipped, quantize(image), quantize(shipped.remove_reflection(image)["transmission"]))
        rows.setdefault("shipped model", []).extend(psnrs(model, target))
    means = {key: np.mean(values, 0) for key, values in rows.items()}
    print(f"{folder}: " + "; ".join(f"{key} {mean[0]:.2f} / {mean[1]:.2f}" for key, mean in means.items()), flush=True)
