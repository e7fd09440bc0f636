"""A checkpoint's raw and EMA generator given the oracle attention map (the reflection mask of I - T,
averaged over BLOCK x BLOCK blocks) or its own Attention-net's map: level-free removal on
benchmarks/removal.py's crops, and PSNR on the README example against its clean scene.

    python experiments/oracle_attention/score.py WORKDIR/checkpoints/ckpt-N [BLOCK]
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from rrgan import checkpoints, losses
from rrgan.config import preset
from rrgan.data.pipeline import holdout_crops
from rrgan.inference import load_config
from rrgan.metrics import level_free_psnr, psnr, quantize
from rrgan.models import build_generator, build_networks


def oracle_map(image, target, block: int):
    mask = losses.reflection_mask(image, target)
    return tf.repeat(tf.repeat(tf.nn.avg_pool2d(mask, block, block, "VALID"), block, axis=1), block, axis=2)


path, block = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
config = load_config(Path(path).parents[1]).model
networks = build_networks(config)
average = build_generator(config, name="generator_ema")
checkpoints.restore_networks(path, networks, average)
generators = {"raw": networks.generator, "ema": average}

for sigma in (1.0, 2.0, 5.0):
    data = preset("cpu-long").override(["data.synthesis.recipes=zhang", f"data.synthesis.zhang_sigma={sigma},{sigma}",
                                        "data.synthesis.reflection_strength=0.6,0.6", "data.clean_fraction=0"]).data
    gains = {name: [] for name in generators}
    for batch in holdout_crops(["../shared/data/photos"], data).batch(8).take(25):
        image, target = batch["input"], batch["target"]
        edge, attention = networks.guidance(image)["edge"], oracle_map(image, target, block)
        inputs, targets = quantize(image).numpy(), quantize(target).numpy()
        for name, generator in generators.items():
            outputs = quantize(generator([image, edge, attention])["transmission"]).numpy()
            gains[name] += [level_free_psnr(o, t) - level_free_psnr(i, t) for i, t, o in zip(inputs, targets, outputs)]
    print(f"crops, sigma {sigma:g}, oracle map: level-free gain " + ", ".join(
        f"{name} {np.nanmean(np.where(np.isinf(g), np.nan, g)):+.2f} dB" for name, g in gains.items()), flush=True)

image = np.asarray(Image.open("rrgan/examples/window.jpg").convert("RGB"))
clean = np.asarray(Image.open("docs/window_clean.jpg").convert("RGB"))
height, width = image.shape[0] // block * block, image.shape[1] // block * block
image, target = (tf.constant(x[None, :height, :width] / 255.0, tf.float32) for x in (image, clean))
guidance = networks.guidance(image)
truth = quantize(target).numpy()[0]
print(f"README example: identity {psnr(quantize(image).numpy()[0], truth):.2f} dB")
maps = {"oracle map": oracle_map(image, target, block), "own map": guidance["attention_maps"][..., -1:]}
for label, attention in maps.items():
    output = quantize(networks.generator([image, guidance["edge"], attention])["transmission"]).numpy()[0]
    print(f"README example, raw generator, {label}: {psnr(output, truth):.2f} dB "
          f"(level-free {level_free_psnr(output, truth):.2f})")
