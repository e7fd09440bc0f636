"""The generator's contract, shared by its architectures (``model.generator``): the inputs [I, edge,
attention, *backbone features], the outputs (T, R = I - T and the multi-scale T), and the residual
heads that make an untrained generator the identity."""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers, ops

from rrgan.config import ModelConfig
from rrgan.layers import CropLike, PadLike, PadToMultiple
from rrgan.models.backbone import feature_inputs, feature_levels

SCALED_OUTPUTS = {4: "transmission_quarter", 2: "transmission_half"}  # scale -> output key


@dataclass(frozen=True)
class GeneratorInputs:
    """The Keras inputs of a generator and what every architecture starts from: ``guided``
    (concat of I, edge and attention, edge-padded to a multiple of 2^depth) and ``padded_image``."""

    image: keras.KerasTensor
    edge: keras.KerasTensor
    attention: keras.KerasTensor
    features: list
    guided: keras.KerasTensor
    padded_image: keras.KerasTensor

    @property
    def all(self) -> list:
        return [self.image, self.edge, self.attention, *self.features]


def generator_inputs(config: ModelConfig) -> GeneratorInputs:
    image = keras.Input((None, None, 3), name="image")
    edge = keras.Input((None, None, 1), name="edge")
    attention = keras.Input((None, None, 1), name="attention")
    guided = PadToMultiple(2 ** config.generator_depth, name="pad")(
        layers.Concatenate(name="guided_input")([image, edge, attention]))
    return GeneratorInputs(image, edge, attention, feature_inputs(config), guided, guided[..., :3])


def joining_features(config: ModelConfig, features: list) -> dict:
    """Encoder level -> (stage, feature) of each backbone feature, joined at its resolution."""
    return {level: (stage, feature) for stage, (feature, level) in
            enumerate(zip(features, feature_levels(config)), start=1)}


def with_features(x, stage: int, feature):
    """x plus backbone ``feature`` (same resolution), projected to x's width, edge-padded to x's size.
    The projection starts at zero: the features join silently, and a generator trained without
    them grows into one with them (``grow_into``) computing what it did."""
    projected = layers.Conv2D(x.shape[-1], 1, kernel_initializer="zeros", name=f"features_{stage}_projection")(
        feature)
    return layers.Add(name=f"features_{stage}_added")([x, PadLike(name=f"features_{stage}_padded")(projected, x)])


def colour_head(x, width: int):
    """A per-image gain and offset per channel [B, 6], from the globally pooled features ``x``: a
    reflection changes a photo's overall level as well as its details. Starts at zero."""
    pooled = layers.GlobalAveragePooling2D(name="colour_pool")(x)
    pooled = layers.Dense(width, activation="relu", name="colour_hidden")(pooled)
    return layers.Dense(6, kernel_initializer="zeros", dtype="float32", name="colour")(pooled)


def _colour_corrected(image, colour):
    """image * (1 + gain) + offset, per image and channel; ``colour`` is [B, 6] (gains, offsets)."""
    gain, offset = colour[:, None, None, :3], colour[:, None, None, 3:]
    return ops.cast(image, "float32") * (1.0 + gain) + offset


def residual_image(features, image, colour, name: str):
    """The colour-corrected image plus a learned local correction, clipped to [0, 1]. Both start at
    zero, so an untrained generator is the identity: it begins at the "input as output" baseline."""
    delta = layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros", dtype="float32", name=f"{name}_delta")(
        features)
    base = ops.cast(image, "float32") if colour is None else _colour_corrected(image, colour)
    return ops.clip(base + delta, 0.0, 1.0)


def scaled_output(x, inputs: GeneratorInputs, colour, scale: int) -> dict:
    """The multi-scale output at 1/``scale`` of the padded size from decoder features ``x`` there,
    as {key: output}; empty at a scale that has none."""
    if scale not in SCALED_OUTPUTS:
        return {}
    key = SCALED_OUTPUTS[scale]
    return {key: residual_image(x, layers.AveragePooling2D(scale, name=f"image_{key}")(inputs.padded_image), colour,
                                key)}


def generator_model(x, inputs: GeneratorInputs, colour, scaled_outputs: dict, name: str) -> keras.Model:
    """The model of the contract from the full-resolution decoder features ``x``."""
    transmission = CropLike(name="transmission", dtype="float32")(
        residual_image(x, inputs.padded_image, colour, "transmission_padded"), inputs.image)
    reflection = layers.Subtract(name="reflection", dtype="float32")([ops.cast(inputs.image, "float32"), transmission])
    return keras.Model(inputs.all, {"transmission": transmission, "reflection": reflection, **scaled_outputs},
                       name=name)
