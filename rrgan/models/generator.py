"""Generator: encoder-decoder with skips and a dilated bottleneck, guided by the edge and attention
maps and, with a backbone, by pretrained multi-scale features (hypercolumns)."""

from __future__ import annotations

import keras
from keras import layers, ops

from rrgan.config import ModelConfig
from rrgan.layers import CropLike, PadLike, PadToMultiple, ResidualBlock
from rrgan.models.backbone import feature_inputs, feature_levels


def _colour_corrected(image, colour):
    """image * (1 + gain) + offset, per image and channel; ``colour`` is [B, 6] (gains, offsets)."""
    gain, offset = colour[:, None, None, :3], colour[:, None, None, 3:]
    return ops.cast(image, "float32") * (1.0 + gain) + offset


def _residual_image(features, image, colour, name: str):
    """The colour-corrected image plus a learned local correction, clipped to [0, 1]. Both start at
    zero, so an untrained generator is the identity: it begins at the "input as output" baseline."""
    delta = layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros", dtype="float32", name=f"{name}_delta")(
        features)
    base = ops.cast(image, "float32") if colour is None else _colour_corrected(image, colour)
    return ops.clip(base + delta, 0.0, 1.0)


def _with_features(x, stage: int, feature):
    """x plus backbone ``feature`` (same resolution), projected to x's width, edge-padded to x's size.
    The projection starts at zero: the features join silently, and a generator trained without
    them grows into one with them (``grow_into``) computing what it did."""
    projected = layers.Conv2D(x.shape[-1], 1, kernel_initializer="zeros", name=f"features_{stage}_projection")(
        feature)
    return layers.Add(name=f"features_{stage}_added")([x, PadLike(name=f"features_{stage}_padded")(projected, x)])


def build_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """[I, edge, attention, *backbone features] -> dict of ``transmission`` (T, input size),
    ``reflection`` (I - T) and ``transmission_half`` / ``transmission_quarter`` (multi-scale outputs
    at the padded size / 2, / 4).

    ``generator_blocks`` residual blocks follow the dilated convs; each starts as the identity, as
    each backbone feature's projection starts at zero, so the layers of a generator with fewer
    blocks, or without features, load by name into one with them (``grow_into``).

    Any input size: sides are edge-padded to a multiple of 2^depth and the output cropped back.
    Each backbone feature at 1/2^k of the input size joins the encoder at level k (the bottleneck
    when k = depth), projected to the level's width. With ``generator_colour``, a per-image gain
    and offset per channel, read from the globally pooled bottleneck, correct the overall level
    before the local correction.
    """
    image = keras.Input((None, None, 3), name="image")
    edge = keras.Input((None, None, 1), name="edge")
    attention = keras.Input((None, None, 1), name="attention")
    features = feature_inputs(config)
    multiple = 2 ** config.generator_depth
    guided = PadToMultiple(multiple, name="pad")(layers.Concatenate(name="guided_input")([image, edge, attention]))
    padded_image = guided[..., :3]

    width = config.generator_width
    x = layers.Conv2D(width, 5, padding="same", activation="relu", name="stem")(guided)
    joining = {level: (stage, feature) for stage, (feature, level) in
               enumerate(zip(features, feature_levels(config)), start=1)}
    skips = []
    for level in range(config.generator_depth):
        if level in joining:
            x = _with_features(x, *joining[level])
        skips.append(x)
        channels = width * 2 ** (level + 1)
        x = layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu", name=f"down_{level}")(x)
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"down_{level}_conv")(x)
    if config.generator_depth in joining:
        x = _with_features(x, *joining[config.generator_depth])  # the bottleneck
    for dilation in config.generator_dilations:
        x = layers.Conv2D(x.shape[-1], 3, padding="same", dilation_rate=dilation, activation="relu",
                          name=f"dilated_{dilation}")(x)
    for index in range(config.generator_blocks):
        x = ResidualBlock(x.shape[-1], starts_as_identity=True, name=f"bottleneck_block_{index}")(x)
    colour = None
    if config.generator_colour:
        pooled = layers.GlobalAveragePooling2D(name="colour_pool")(x)
        pooled = layers.Dense(width, activation="relu", name="colour_hidden")(pooled)
        colour = layers.Dense(6, kernel_initializer="zeros", dtype="float32", name="colour")(pooled)

    scaled_outputs = {}
    for level in reversed(range(config.generator_depth)):
        scale = 2 ** (level + 1)
        if scale <= 4:
            key = {4: "transmission_quarter", 2: "transmission_half"}[scale]
            scaled_outputs[key] = _residual_image(
                x, layers.AveragePooling2D(scale, name=f"image_{key}")(padded_image), colour, key)
        channels = width * 2 ** level
        x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="relu", name=f"up_{level}")(x)
        x = layers.Concatenate(name=f"skip_{level}")([x, skips[level]])
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"up_{level}_conv")(x)

    transmission = CropLike(name="transmission", dtype="float32")(
        _residual_image(x, padded_image, colour, "transmission_padded"), image)
    reflection = layers.Subtract(name="reflection", dtype="float32")([ops.cast(image, "float32"), transmission])
    return keras.Model([image, edge, attention, *features],
                       {"transmission": transmission, "reflection": reflection, **scaled_outputs}, name=name)
