"""Edge-net: predicts the Sobel edge map of the transmission T from the photo I."""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import ModelConfig
from rrgan.layers import ResidualBlock, SobelEdges


def build_edge_net(config: ModelConfig, name: str = "edge_net") -> keras.Model:
    """I [B, H, W, 3] -> edge map [B, H, W, 1]. Sees I and its own Sobel map, and learns which of
    those edges belong to the scene behind the glass."""
    image = keras.Input((None, None, 3), name="image")
    sobel = SobelEdges(name="image_sobel")(image)
    x = layers.Concatenate(name="image_and_sobel")([image, sobel])
    x = layers.Conv2D(config.edge_width, 3, padding="same", activation="relu", name="stem")(x)
    for index in range(config.edge_blocks):
        x = ResidualBlock(config.edge_width, name=f"block_{index}")(x)
    edges = layers.Conv2D(1, 3, padding="same", dtype="float32", name="edges")(x)
    return keras.Model(image, edges, name=name)
