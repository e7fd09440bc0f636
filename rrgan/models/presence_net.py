"""Presence-net: whether a photo holds a reflection at all.

The other networks are trained on photos taken through glass, and on every such set the target is
darker than the photo: they learn to lower the level of whatever they are given, and a photo
without glass comes back darker. Whether a photo was taken through glass is told by the whole of
it, by the veil the Level-net already sees: so this net is a small head (``presence_head``) on the
Level-net's features of the same thumbnail (the mean and spread over its cells of what each cell
sees), trained in its own stage with the Level-net frozen, and it predicts one probability per
photo. The whole-photo step (``rrgan.level``) keeps that share of the correction, so a photo it
judges clean comes back as it went in. The head's kernel starts at zero and its bias at
``START_LOGIT``: an untrained net keeps (almost) the whole correction.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from rrgan.layers import GlobalSpread

START_LOGIT = 6.0  # sigmoid(6) = 0.9975: an untrained Presence-net passes the correction through
LEVEL_FEATURES = ("with_context", "detail", "cell_colour")  # the Level-net's layers the head reads
HEAD = "presence_head"  # the nested model of the head's own layers: what its stage trains and a weights file holds


def build_presence_net(level_net: keras.Model, hidden: int = 0, name: str = "presence_net") -> keras.Model:
    """Thumbnail [B, h, w, 3] (``level_net``'s) -> the logit that the photo holds a reflection, [B, 1]:
    ``level_net``'s layers up to the features it reads (shared, not copied), then the head. Call it
    with ``training=False``: the Level-net's batch norm stays as it was trained. With ``hidden`` units,
    the head has a hidden ReLU layer (``model.presence_hidden``); without, it is a logistic regression."""
    features = [level_net.get_layer(layer_name).output for layer_name in LEVEL_FEATURES]
    head = _build_head([feature.shape[-1] for feature in features], hidden)
    return keras.Model(level_net.inputs[0], head(features), name=name)


def _build_head(channels: list[int], hidden: int) -> keras.Model:
    inputs = [keras.Input((None, None, count), name=layer_name) for layer_name, count in zip(LEVEL_FEATURES, channels)]
    pooled = []
    for layer_name, features in zip(LEVEL_FEATURES, inputs):
        pooled += [layers.GlobalAveragePooling2D(name=f"{layer_name}_mean")(features),
                   GlobalSpread(name=f"{layer_name}_spread")(features)]
    x = layers.Concatenate(name="pooled")(pooled)
    if hidden:
        x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    logit = layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(START_LOGIT),
                         dtype="float32", name="presence_logit")(x)
    return keras.Model(inputs, logit, name=HEAD)


def presence_head(presence_net: keras.Model) -> keras.Model:
    """The Presence-net's own layers (not the Level-net's it reads), as one model."""
    return presence_net.get_layer(HEAD)


def presence(logit, odds: float = 1.0):
    """The probability that a photo holds a reflection, from the net's logit, with the ``odds`` of a
    reflection multiplied by ``odds`` (``model.presence_odds``)."""
    return ops.sigmoid(ops.cast(logit, "float32") + math.log(odds))


def gated(images, transmission, probability):
    """``transmission`` moved back toward ``images`` by the Presence-net's doubt: the photo plus the
    ``probability`` that it holds a reflection times the correction (any shapes that broadcast)."""
    return images + probability * (transmission - images)
