"""Edge-net: predicts the Sobel edge map of the transmission T from the photo I."""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import ModelConfig
from rrgan.layers import CropLike, ResidualBlock, SobelEdges
from rrgan.models.backbone import feature_inputs, feature_levels


def build_edge_net(config: ModelConfig, name: str = "edge_net") -> keras.Model:
    """[I [B, H, W, 3], *backbone features] -> edge map [B, H, W, 1].

    Sees I and its own Sobel map, and learns which of those edges belong to the scene behind the
    glass. With a backbone, the features of every stage are projected, brought to full size and
    added to the stem: the net learns from HED's knowledge of object boundaries, or ImageNet's of
    objects. The projections start at zero, so an Edge-net trained without features grows into one
    with them (``grow_into``) computing what it did.
    """
    image = keras.Input((None, None, 3), name="image")
    features = feature_inputs(config)
    sobel = SobelEdges(name="image_sobel")(image)
    x = layers.Concatenate(name="image_and_sobel")([image, sobel])
    x = layers.Conv2D(config.edge_width, 3, padding="same", activation="relu", name="stem")(x)
    for stage, (feature, level) in enumerate(zip(features, feature_levels(config)), start=1):
        projected = layers.Conv2D(config.edge_width, 1, kernel_initializer="zeros",
                                  name=f"features_{stage}_projection")(feature)
        if level > 0:
            projected = layers.UpSampling2D(2 ** level, name=f"features_{stage}_upsampled")(projected)
        x = layers.Add(name=f"features_{stage}_added")([x, CropLike(name=f"features_{stage}_cropped")(projected, x)])
    for index in range(config.edge_blocks):
        x = ResidualBlock(config.edge_width, name=f"block_{index}")(x)
    edges = layers.Conv2D(1, 3, padding="same", dtype="float32", name="edges")(x)
    return keras.Model([image, *features], edges, name=name)
