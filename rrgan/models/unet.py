"""The U-Net generator: encoder-decoder with skips and a dilated bottleneck (Qian et al.), guided by
the edge and attention maps and, with a backbone, by pretrained multi-scale features (hypercolumns)."""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import ModelConfig
from rrgan.layers import ResidualBlock
from rrgan.models.generator import (
    colour_head,
    generator_inputs,
    generator_model,
    joining_features,
    scaled_output,
    with_features,
)


def build_unet_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """The generator contract (``rrgan.models.generator``) as a ReLU U-Net of ``generator_depth``
    stride-2 levels, upsampled by transposed convs.

    ``generator_blocks`` residual blocks follow the dilated convs; each starts as the identity, as
    each backbone feature's projection starts at zero, so the layers of a generator with fewer
    blocks, or without features, load by name into one with them (``grow_into``). Each backbone
    feature at 1/2^k of the input size joins the encoder at level k (the bottleneck when k = depth).
    """
    inputs = generator_inputs(config)
    width = config.generator_width
    x = layers.Conv2D(width, 5, padding="same", activation="relu", name="stem")(inputs.guided)
    joining = joining_features(config, inputs.features)
    skips = []
    for level in range(config.generator_depth):
        if level in joining:
            x = with_features(x, *joining[level])
        skips.append(x)
        channels = width * 2 ** (level + 1)
        x = layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu", name=f"down_{level}")(x)
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"down_{level}_conv")(x)
    if config.generator_depth in joining:
        x = with_features(x, *joining[config.generator_depth])  # the bottleneck
    for dilation in config.generator_dilations:
        x = layers.Conv2D(x.shape[-1], 3, padding="same", dilation_rate=dilation, activation="relu",
                          name=f"dilated_{dilation}")(x)
    for index in range(config.generator_blocks):
        x = ResidualBlock(x.shape[-1], starts_as_identity=True, name=f"bottleneck_block_{index}")(x)
    colour = colour_head(x, width) if config.generator_colour else None

    scaled_outputs = {}
    for level in reversed(range(config.generator_depth)):
        scaled_outputs.update(scaled_output(x, inputs, colour, 2 ** (level + 1)))
        channels = width * 2 ** level
        x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="relu", name=f"up_{level}")(x)
        x = layers.Concatenate(name=f"skip_{level}")([x, skips[level]])
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"up_{level}_conv")(x)
    return generator_model(x, inputs, colour, scaled_outputs, name)
