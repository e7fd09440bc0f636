"""Level-net: the colour gain and offset that a reflection (and the capture) laid over the whole photo.

The other networks see the photo in tiles; a veil of reflected light spans the photo, and its level
at one place is told by the rest of it. This net sees a thumbnail of the whole photo and predicts,
per cell of ``CELL`` thumbnail pixels, a log-gain and an offset per channel: the photo under that
smooth field, ``I * exp(gain) + offset``, is the scene's level. Its ImageNet EfficientNet-Lite0
(in the package) is fine-tuned; the field's last layer starts at zero, so an untrained net changes
nothing.

With a learned mix (``model.level_learned_mix``) it is also given the transmission's thumbnail and
predicts per cell how far the transmission moves toward the field's level: the generator has the
scene's level in some places (a mild reflection) and not in others (a veil over the whole photo).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from rrgan.config import ModelConfig
from rrgan.models.efficientnet_lite import build_efficientnet_lite

CELL = 16  # thumbnail pixels per cell of the field: EfficientNet-Lite's deepest features are at 1/16
FIELD_CHANNELS = 6  # log-gain and offset of each colour channel; a learned mix's logit follows


def build_level_net(config: ModelConfig, name: str = "level_net") -> keras.Model:
    """Thumbnail [B, h, w, 3] in [0, 1], h and w multiples of ``CELL`` -> field [B, h/16, w/16, 6];
    with ``config.level_learned_mix``, [thumbnail, transmission's thumbnail] -> [B, h/16, w/16, 7].

    What each cell sees: the backbone's features at 1/16 plus a global context (their mean), the
    features at 1/8 pooled to the cell, and the cell's own mean colour.
    """
    width = config.level_width
    thumbnail = keras.Input((None, None, 3), name="thumbnail")
    *_, eighth, sixteenth = build_efficientnet_lite("lite0", feature_stages=4, trainable=True,
                                                    name="level_backbone")(thumbnail)
    x = layers.Conv2D(width, 1, activation="relu", name="features")(sixteenth)
    context = layers.GlobalAveragePooling2D(keepdims=True, name="context_pooled")(x)
    context = layers.Dense(width, activation="relu", name="context")(context)
    colour = layers.AveragePooling2D(CELL, name="cell_colour")(thumbnail)
    detail = layers.Conv2D(width // 2, 1, activation="relu", name="detail")(eighth)
    detail = layers.AveragePooling2D(2, name="detail_pooled")(detail)
    x = layers.Concatenate(name="cell_inputs")([layers.Add(name="with_context")([x, context]), colour, detail])
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name="head_1")(x)
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name="head_2")(x)
    field = layers.Conv2D(FIELD_CHANNELS, 3, padding="same", kernel_initializer="zeros", dtype="float32",
                          name="field")(x)
    if not config.level_learned_mix:
        return keras.Model(thumbnail, field, name=name)
    transmission = keras.Input((None, None, 3), name="transmission")
    generated = layers.AveragePooling2D(CELL, name="transmission_colour")(transmission)
    mix = layers.Concatenate(name="mix_inputs")([x, colour, generated])
    mix = layers.Conv2D(width // 2, 3, padding="same", activation="relu", name="mix_1")(mix)
    mix = layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros", dtype="float32", name="mix",
                        bias_initializer=keras.initializers.Constant(_logit(config.level_mix)))(mix)
    return keras.Model([thumbnail, transmission], layers.Concatenate(name="field_and_mix")([field, mix]), name=name)


def _logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


def learns_mix(level_net: keras.Model) -> bool:
    """Whether the net predicts its own mix (and takes the transmission's thumbnail as a second input)."""
    return len(level_net.inputs) > 1


def toward_field(images, transmission, output, mix: float):
    """``transmission`` [B, H, W, 3] moved toward ``images`` under the field of the net's ``output``
    (at their size): by the net's own mix where it predicts one, else by ``mix``."""
    if output.shape[-1] > FIELD_CHANNELS:
        mix = ops.sigmoid(output[..., FIELD_CHANNELS:])
    return transmission + mix * (images * ops.exp(output[..., :3]) + output[..., 3:FIELD_CHANNELS] - transmission)
