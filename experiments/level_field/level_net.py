"""Prototype: a low-resolution whole-photo net predicting a smooth gain/offset field (experiments only).

The photo's thumbnail (short side THUMB) -> frozen EfficientNet-Lite0 -> a per-cell log-gain and
offset on a grid at 1/16 of the thumbnail, upsampled and applied at any size: I * exp(g) + b.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from rrgan.models.efficientnet_lite import build_efficientnet_lite

THUMB = 128
STRIDE = 16


def build_level_net(width: int = 64, trainable_backbone: bool = False) -> keras.Model:
    image = keras.Input((None, None, 3), name="thumbnail")
    *_, stage3, stage4 = build_efficientnet_lite("lite0", feature_stages=4, trainable=trainable_backbone)(image)
    x = layers.Conv2D(width, 1, activation="relu")(stage4)
    context = layers.Dense(width, activation="relu")(layers.GlobalAveragePooling2D(keepdims=True)(x))
    cells = layers.AveragePooling2D(STRIDE, padding="same")(image)
    detail = layers.AveragePooling2D(2, padding="same")(layers.Conv2D(width // 2, 1, activation="relu")(stage3))
    x = layers.Concatenate()([x + context, cells, detail])
    x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    field = layers.Conv2D(6, 3, padding="same", kernel_initializer="zeros", name="field")(x)
    return keras.Model(image, field, name="level_net")


def apply_field(image: tf.Tensor, field: tf.Tensor, thumb_size) -> tf.Tensor:
    """image [B, H, W, 3] in [0, 1]; field [B, h, w, 6] of a thumbnail of ``thumb_size``."""
    field = tf.image.resize(tf.image.resize(field, thumb_size, "bilinear"), tf.shape(image)[1:3], "bilinear")
    return image * tf.exp(field[..., :3]) + field[..., 3:]


def thumbnail_size(height: int, width: int) -> tuple[int, int]:
    """A photo's size scaled to a short side of THUMB, aspect kept."""
    scale = THUMB / min(height, width)
    return max(THUMB, round(height * scale)), max(THUMB, round(width * scale))


def thumbnail(image: tf.Tensor) -> tf.Tensor:
    height, width = image.shape[1], image.shape[2]
    return tf.image.resize(image, thumbnail_size(height, width), "area" if min(height, width) > THUMB else "bilinear")


def corrected(model: keras.Model, image_uint8: np.ndarray) -> np.ndarray:
    """The level field of ``image_uint8`` applied to it at full size, float in [0, 1]."""
    image = tf.constant(image_uint8[None], tf.float32) / 255.0
    small = thumbnail(image)
    return apply_field(image, model(small), tf.shape(small)[1:3])[0].numpy()
