"""Presence-net: whether a photo holds a reflection at all.

The other networks are trained on photos taken through glass, and on every such set the target is
darker than the photo: they learn to lower the level of whatever they are given, and a photo
without glass comes back darker. Which photos hold a reflection is told by the whole of them, so
this net sees the Level-net's thumbnail and predicts one probability per photo; the whole-photo
step (``rrgan.level``) moves the output that share of the way from the photo, so a photo it judges
clean comes back as it went in. Its ImageNet EfficientNet-Lite0 (in the package) is fine-tuned; the
last layer's kernel starts at zero and its bias at ``START_LOGIT``, so an untrained net keeps
(almost) the whole correction.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from rrgan.config import ModelConfig
from rrgan.models.efficientnet_lite import build_efficientnet_lite

START_LOGIT = 6.0  # sigmoid(6) = 0.9975: an untrained Presence-net passes the correction through


def build_presence_net(config: ModelConfig, name: str = "presence_net") -> keras.Model:
    """Thumbnail [B, h, w, 3] in [0, 1] (any size) -> the logit that it holds a reflection, [B, 1].

    From the backbone's deepest features, pooled by their mean and their maximum: a reflection may
    cover the photo or one corner of it.
    """
    thumbnail = keras.Input((None, None, 3), name="thumbnail")
    *_, deepest = build_efficientnet_lite("lite0", feature_stages=4, trainable=True,
                                          name="presence_backbone")(thumbnail)
    pooled = layers.Concatenate(name="pooled")([layers.GlobalAveragePooling2D(name="mean_pool")(deepest),
                                                layers.GlobalMaxPooling2D(name="max_pool")(deepest)])
    x = layers.Dense(config.presence_width, activation="relu", name="hidden")(pooled)
    logit = layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(START_LOGIT),
                         dtype="float32", name="presence")(x)
    return keras.Model(thumbnail, logit, name=name)


def presence(logit):
    """The probability that a photo holds a reflection, from the net's logit."""
    return ops.sigmoid(ops.cast(logit, "float32"))


def gated(images, transmission, probability):
    """``transmission`` moved back toward ``images`` by the Presence-net's doubt: the photo plus the
    ``probability`` that it holds a reflection times the correction (any shapes that broadcast)."""
    return images + probability * (transmission - images)
