"""Edge-net: predicts the Sobel edge map of the transmission T from the photo I."""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import ModelConfig
from rrgan.layers import CropLike, ResidualBlock, SobelEdges


def feature_inputs(config: ModelConfig) -> list:
    """Keras inputs for the backbone's features (none without a backbone), block b at 1/2^(b-1) size."""
    if config.backbone == "none":
        return []
    channels = (64, 128, 256, 512, 512)
    return [keras.Input((None, None, channels[b]), name=f"features_{b + 1}") for b in range(config.backbone_stages)]


def build_edge_net(config: ModelConfig, name: str = "edge_net") -> keras.Model:
    """[I [B, H, W, 3], *backbone features] -> edge map [B, H, W, 1].

    Sees I and its own Sobel map, and learns which of those edges belong to the scene behind the
    glass. With a backbone, HED's boundary features of every block are projected, brought to full
    size and added to the stem: the net starts from HED's knowledge of object boundaries.
    """
    image = keras.Input((None, None, 3), name="image")
    features = feature_inputs(config)
    sobel = SobelEdges(name="image_sobel")(image)
    x = layers.Concatenate(name="image_and_sobel")([image, sobel])
    x = layers.Conv2D(config.edge_width, 3, padding="same", activation="relu", name="stem")(x)
    for block, feature in enumerate(features, start=1):
        projected = layers.Conv2D(config.edge_width, 1, name=f"features_{block}_projection")(feature)
        if block > 1:
            projected = layers.UpSampling2D(2 ** (block - 1), name=f"features_{block}_upsampled")(projected)
        x = layers.Add(name=f"features_{block}_added")([x, CropLike(name=f"features_{block}_cropped")(projected, x)])
    for index in range(config.edge_blocks):
        x = ResidualBlock(config.edge_width, name=f"block_{index}")(x)
    edges = layers.Conv2D(1, 3, padding="same", dtype="float32", name="edges")(x)
    return keras.Model([image, *features], edges, name=name)
