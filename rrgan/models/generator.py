"""Generator: encoder-decoder with skips and a dilated bottleneck, guided by the edge and attention maps."""

from __future__ import annotations

import keras
from keras import layers, ops

from rrgan.config import ModelConfig
from rrgan.layers import CropLike, PadToMultiple


def _residual_image(features, image, name: str):
    """image + a learned correction, clipped to [0, 1]. The correction starts at zero, so an
    untrained generator is the identity: it begins at the "input as output" baseline."""
    delta = layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros", dtype="float32", name=f"{name}_delta")(
        features)
    return ops.clip(ops.cast(image, "float32") + delta, 0.0, 1.0)


def build_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """[I, edge, attention] -> dict of ``transmission`` (T, input size), ``reflection`` (I - T) and
    ``transmission_half`` / ``transmission_quarter`` (multi-scale outputs at the padded size / 2, / 4).

    Any input size: sides are reflect-padded to a multiple of 2^depth and the output cropped back.
    """
    if config.generator_depth < 2:
        raise ValueError("model.generator_depth must be at least 2 (outputs at 1/4, 1/2 and 1)")
    image = keras.Input((None, None, 3), name="image")
    edge = keras.Input((None, None, 1), name="edge")
    attention = keras.Input((None, None, 1), name="attention")
    multiple = 2 ** config.generator_depth
    guided = PadToMultiple(multiple, name="pad")(layers.Concatenate(name="guided_input")([image, edge, attention]))
    padded_image = guided[..., :3]

    width = config.generator_width
    x = layers.Conv2D(width, 5, padding="same", activation="relu", name="stem")(guided)
    skips = []
    for level in range(config.generator_depth):
        skips.append(x)
        channels = width * 2 ** (level + 1)
        x = layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu", name=f"down_{level}")(x)
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"down_{level}_conv")(x)
    for dilation in config.generator_dilations:
        x = layers.Conv2D(x.shape[-1], 3, padding="same", dilation_rate=dilation, activation="relu",
                          name=f"dilated_{dilation}")(x)

    scaled_outputs = {}
    for level in reversed(range(config.generator_depth)):
        scale = 2 ** (level + 1)
        if scale <= 4:
            key = {4: "transmission_quarter", 2: "transmission_half"}[scale]
            scaled_outputs[key] = _residual_image(
                x, layers.AveragePooling2D(scale, name=f"image_{key}")(padded_image), key)
        channels = width * 2 ** level
        x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="relu", name=f"up_{level}")(x)
        x = layers.Concatenate(name=f"skip_{level}")([x, skips[level]])
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"up_{level}_conv")(x)

    transmission = CropLike(name="transmission", dtype="float32")(
        _residual_image(x, padded_image, "transmission_padded"), image)
    reflection = layers.Subtract(name="reflection", dtype="float32")([ops.cast(image, "float32"), transmission])
    return keras.Model([image, edge, attention], {"transmission": transmission, "reflection": reflection,
                                                  **scaled_outputs}, name=name)
