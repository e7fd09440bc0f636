"""Training throughput of both stages and the size of each network, for the chosen presets.

    python benchmarks/train_step.py [--presets tiny cpu base] [--steps 10] [--crop 256] [--set KEY=VALUE ...]

Prints, per preset: images per second for stage 1 (aux) and stage 2 (gan) on random crop x crop
batches (median over timed steps after a warm-up, the preset's batch size and dtype policy), and
each network's parameter count and GFLOPs per forward pass at that size (multiply-add = 2 FLOPs,
counted by the TF profiler on the traced graph). The perceptual term is off unless --set turns it
on with weights that need no download (loss.perceptual_weights=hed or efficientnet_lite0).
TensorFlow's oneDNN kernels are on, as ``rrgan-train`` has them (TF_ENABLE_ONEDNN_OPTS=0 compares).
"""
# ruff: noqa: E402  (TensorFlow is imported after prefer_onednn, which it reads when it loads)

from __future__ import annotations

import argparse
import statistics
import time

from rrgan.startup import prefer_onednn

prefer_onednn()  # as rrgan-train does, before TensorFlow loads

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port

from rrgan.config import preset
from rrgan.inference import compute_precision
from rrgan.layers import dtype_policy
from rrgan.losses import build_perceptual_features
from rrgan.models import build_networks
from rrgan.training.trainers import AuxiliaryTrainer, GANTrainer


def gflops(model, inputs) -> float:
    """Float operations of one forward pass, from the TF profiler on the traced graph."""
    specs = tf.nest.map_structure(lambda x: tf.TensorSpec(x.shape, tf.float32), inputs)
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops / 1e9


def images_per_second(trainer, batch, steps: int) -> float:
    step = tf.function(trainer.train_step)
    for _ in range(2):
        step(batch)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        tf.nest.map_structure(lambda x: x.numpy(), step(batch))
        times.append(time.perf_counter() - start)
    return len(batch["input"]) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "cpu", "base"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every preset, as in rrgan-train (repeatable)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for name in args.presets:
        config = preset(name).override(["loss.perceptual=0", *args.set])  # VGG19 needs downloaded weights
        precision = compute_precision(config.train.precision)
        with dtype_policy(precision):
            networks = build_networks(config.model)
            perceptual = (build_perceptual_features(config.loss.perceptual_weights) if config.loss.perceptual > 0
                          else None)
        size = (config.train.batch_size, args.crop, args.crop, 3)
        batch = {"input": tf.constant(rng.uniform(0, 1, size), tf.float32),
                 "target": tf.constant(rng.uniform(0, 1, size), tf.float32)}
        aux = AuxiliaryTrainer(networks, config.loss)
        aux.compile(optimizer=keras.optimizers.Adam(1e-4))
        gan = GANTrainer(networks, config.loss, perceptual)
        gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4))
        print(f"[{name}] batch {size[0]} x {args.crop}x{args.crop}, {precision}, "
              f"oneDNN {'on' if _pywrap_util_port.IsMklEnabled() else 'off'}"
              + ("" if perceptual else ", perceptual off") + "".join(f", {override}" for override in args.set))
        print(f"  stage 1 (aux): {images_per_second(aux, batch, args.steps):7.1f} images/s")
        print(f"  stage 2 (gan): {images_per_second(gan, batch, args.steps):7.1f} images/s")
        single = np.zeros((1, args.crop, args.crop, 3), np.float32)
        guide = np.zeros((1, args.crop, args.crop, 1), np.float32)
        features = [np.asarray(f, np.float32) for f in networks.backbone(single)] if networks.backbone else []
        attention_features = ([np.asarray(f, np.float32) for f in networks.attention_backbone(single)]
                              if networks.attention_backbone else [])
        models = [(networks.edge_net, [single, *features]), (networks.attention_net, [single, *attention_features]),
                  (networks.generator, [single, guide, guide, *features]), (networks.discriminator, single)]
        if networks.backbone is not None:
            models.insert(0, (networks.backbone, single))
        if networks.attention_backbone not in (None, networks.backbone):
            models.insert(0, (networks.attention_backbone, single))
        if perceptual is not None:  # it runs on output and target: twice this per image
            models.append((perceptual, single))
        for model, inputs in models:
            print(f"  {model.name:14s} {model.count_params():>10,d} params  {gflops(model, inputs):8.2f} GFLOPs")


if __name__ == "__main__":
    main()
