"""How far the shipped generator's levels on a small view (short side 128, 256, 384) are from those
of its full-size output (cache_outputs.py's cache), on a grid of 8 cells per short side; beside
them, the photo's own. PSNR of the cells (``rrgan.metrics.psnr`` of [0, 1] images: subtract 48.13 dB
for the usual scale).

    python experiments/level_field/generator_scale.py runs/eval/real89_holdout runs/eval/clean
"""
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.inference import load_networks
from rrgan.metrics import psnr

networks = load_networks("rrgan/pretrained", "auto")
cache = Path("runs/eval/cache/shipped")
for folder in sys.argv[1:]:
    res, base = {128: [], 256: [], 384: []}, []
    for pair_set in find_pair_sets(folder):
        for pair in pair_set.pairs[:12]:
            image = read_rgb(pair.input).astype(np.float32) / 255
            full = read_rgb(cache / Path(folder).name / f"{pair.input.stem}.png").astype(np.float32) / 255
            h, w = image.shape[:2]
            cells = (8 * h // min(h, w), 8 * w // min(h, w))
            ref = tf.image.resize(full[None], cells, "area")[0].numpy()
            base.append(psnr(tf.image.resize(image[None], cells, "area")[0].numpy(), ref))
            for s in res:
                size = (round(h * s / min(h, w)), round(w * s / min(h, w)))
                small = tf.image.resize(image[None], size, "area")
                g = tf.cast(networks.remove_reflection(small)["transmission"], tf.float32)
                res[s].append(psnr(tf.image.resize(g, cells, "area")[0].numpy(), ref))
    print(Path(folder).name, "photo", round(np.mean(base), 2),
          {side: round(np.mean(values), 2) for side, values in res.items()}, flush=True)
