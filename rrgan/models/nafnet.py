"""The NAFNet generator (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022): a U-Net
of NAF blocks (LayerNorm, depthwise 3x3, SimpleGate, simplified channel attention), the restoration
block with the best quality per FLOP in denoising and deblurring, and the base of recent
reflection-removal models. Downsampling by 2x2 stride-2 convs, upsampling by PixelShuffle (no
checkerboard), skips added."""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import ModelConfig
from rrgan.layers import NAFBlock, PixelShuffle
from rrgan.models.generator import (
    colour_head,
    generator_inputs,
    generator_model,
    joining_features,
    scaled_output,
    with_features,
)


def _blocks(x, count: int, name: str):
    for index in range(count):
        x = NAFBlock(x.shape[-1], name=f"{name}_{index}")(x)
    return x


def build_nafnet_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """The generator contract (``rrgan.models.generator``) as NAFNet: ``generator_width`` channels
    at full resolution, doubled per level; ``nafnet_encoder_blocks`` / ``nafnet_decoder_blocks``
    blocks per level (full resolution first), ``nafnet_middle_blocks`` at the bottleneck. Backbone
    features join the encoder at their resolution, as in the U-Net."""
    inputs = generator_inputs(config)
    width = config.generator_width
    x = layers.Conv2D(width, 3, padding="same", name="stem")(inputs.guided)
    joining = joining_features(config, inputs.features)
    skips = []
    for level, count in enumerate(config.nafnet_encoder_blocks):
        if level in joining:
            x = with_features(x, *joining[level])
        x = _blocks(x, count, f"encoder_{level}")
        skips.append(x)
        x = layers.Conv2D(2 * x.shape[-1], 2, strides=2, name=f"down_{level}")(x)
    if config.generator_depth in joining:
        x = with_features(x, *joining[config.generator_depth])
    x = _blocks(x, config.nafnet_middle_blocks, "middle")
    colour = colour_head(x, width) if config.generator_colour else None

    scaled_outputs = {}
    for level in reversed(range(config.generator_depth)):
        scaled_outputs.update(scaled_output(x, inputs, colour, 2 ** (level + 1)))
        x = layers.Conv2D(2 * x.shape[-1], 1, use_bias=False, name=f"up_{level}")(x)
        x = PixelShuffle(2, name=f"up_{level}_shuffle")(x)
        x = layers.Add(name=f"skip_{level}")([x, skips[level]])
        x = _blocks(x, config.nafnet_decoder_blocks[level], f"decoder_{level}")
    return generator_model(x, inputs, colour, scaled_outputs, name)
