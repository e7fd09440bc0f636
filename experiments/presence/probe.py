"""Feasibility probe: can the shipped Level-net's features tell a photo with a reflection from one
without? Logistic regression on its pooled features, trained on level-stage views (real inputs and
veiled photos: 1; clean photos and real targets: 0), tested on held-out sets' inputs and targets.

    python experiments/presence/probe.py
"""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
import keras

from rrgan.config import Config
from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.data.pipeline import collect_sources
from rrgan.data.level_views import level_dataset
from rrgan.inference import load_networks
from rrgan.level import thumbnail_shape

networks = load_networks("rrgan/pretrained", "float32")
net = networks.level_net
names = ["context_pooled", "detail"]
probe = keras.Model(net.inputs, [net.get_layer("features").output, net.get_layer("detail").output,
                                 net.get_layer("cell_colour").output])


def features(thumbs):
    a, b, c = probe(thumbs, training=False)
    pooled = [tf.reduce_mean(x, [1, 2]) for x in (a, b, c)] + [tf.math.reduce_std(x, [1, 2]) for x in (a, b, c)]
    return tf.concat(pooled, -1).numpy()


config = Config.load("rrgan/pretrained/config.json")
data = dataclasses.replace(config.data, pair_holdout=0.15, pair_brightness_ratio=(0.1, 1.03), cache=False,
                           shuffle_buffer=64)
sources = collect_sources(["../shared/data/train"], ["../shared/data/photos"])
ds = level_dataset(sources, data, 32, 128, seed=3)
real = round(32 * data.level_real_fraction)
clean = round(32 * data.level_clean_fraction)
X, y = [], []
for step, batch in enumerate(ds.take(40)):
    f = features(batch["input"])
    labels = np.ones(32)
    labels[real:real + clean] = 0
    X.append(f); y.append(labels)
    X.append(features(batch["target"][:real])); y.append(np.zeros(real))
X, y = np.concatenate(X), np.concatenate(y)
mean, std = X.mean(0), X.std(0) + 1e-6
Xn = (X - mean) / std
w = tf.Variable(tf.zeros([X.shape[1], 1])); b = tf.Variable(tf.zeros([1]))
opt = keras.optimizers.Adam(0.01)
Xt, yt = tf.constant(Xn, tf.float32), tf.constant(y[:, None], tf.float32)
for i in range(1500):
    with tf.GradientTape() as tape:
        logits = Xt @ w + b
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(yt, logits)) + 1e-3 * tf.reduce_sum(w * w)
    opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
print("train loss", float(loss), "train acc", float(tf.reduce_mean(tf.cast((logits > 0) == (yt > 0.5), tf.float32))))


def thumb(path):
    image = read_rgb(path)
    size = thumbnail_shape(*image.shape[:2], 128)
    return tf.image.resize(tf.cast(image, tf.float32)[None], size, "area") / 255.0


def prob(path):
    f = (features(thumb(path)) - mean) / std
    return float(tf.sigmoid(tf.constant(f, tf.float32) @ w + b)[0, 0])


rows = []
for folder in ["runs/eval/clean", "runs/eval/real89_holdout", "../shared/data/val/nature20",
               "../shared/data/val/sir2_solidobject", "runs/eval/synth_strong", "runs/eval/example"]:
    pairs = [p for s in find_pair_sets(folder) for p in s.pairs]
    pi = np.array([prob(p.input) for p in pairs])
    pt = np.array([prob(p.target) for p in pairs])
    rows += [{"set": Path(folder).name, "name": p.input.stem, "p_input": a, "p_target": b}
             for p, a, b in zip(pairs, pi, pt)]
    print(f"{Path(folder).name:18s} n={len(pairs)} input p: median {np.median(pi):.2f} "
          f"q10 {np.quantile(pi, .1):.2f} q90 {np.quantile(pi, .9):.2f} | target p: median {np.median(pt):.2f}",
          flush=True)
pd.DataFrame(rows).to_csv("runs/eval/presence_probe.csv", index=False)
