"""Discriminator: patch scores, with Qian et al.'s internal attention-like map."""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import ModelConfig


def build_discriminator(config: ModelConfig, name: str = "discriminator") -> keras.Model:
    """image [B, H, W, 3] -> ``score`` (real/fake logits per patch) and ``map`` (in [0, 1]).

    The map is trained towards the attention map for fake images and zero for real ones (Qian et
    al.), so the discriminator learns to look where reflections were; features are weighted by it.
    """
    image = keras.Input((None, None, 3), name="image")
    x = image
    for index in range(config.discriminator_layers):
        channels = config.discriminator_width * 2 ** min(index, 3)
        x = layers.Conv2D(channels, 4, strides=2, padding="same", name=f"down_{index}")(x)
        x = layers.LeakyReLU(0.2, name=f"down_{index}_act")(x)
    attention_map = layers.Conv2D(1, 3, padding="same", activation="sigmoid", dtype="float32", name="map")(x)
    x = layers.Multiply(name="attend")([x, attention_map])
    x = layers.Conv2D(x.shape[-1], 3, padding="same", name="head")(x)
    x = layers.LeakyReLU(0.2, name="head_act")(x)
    score = layers.Conv2D(1, 3, padding="same", dtype="float32", name="score")(x)
    return keras.Model(image, {"score": score, "map": attention_map}, name=name)
