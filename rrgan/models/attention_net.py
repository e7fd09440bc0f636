"""Attention-net: attentive-recurrent network that finds where the reflections are (Qian et al. 2018)."""

from __future__ import annotations

import keras
from keras import layers, ops

from rrgan.config import ModelConfig
from rrgan.layers import BilinearUpsampling, ConvLSTMCell, CropLike, ResidualBlock
from rrgan.models.backbone import backbone_features, backbone_inputs, backbone_levels


def build_attention_net(config: ModelConfig, name: str = "attention_net") -> keras.Model:
    """[I [B, H, W, 3], *backbone features] -> attention maps [B, H, W, N], one channel per step,
    the last the most refined (I alone where it tunes its backbone, which it then holds).

    Each step sees concat(I, A_{t-1}) (A_0 = 0.5), runs residual blocks and a ConvLSTM cell, and
    emits A_t in [0, 1]. Weights are shared across steps: the same refinement, applied N times.
    With ``attention_scale`` > 1 the steps run on a downscaled photo and the maps are upsampled back:
    reflections are smooth, so the recurrent steps need not pay for every pixel. With an
    ``attention_backbone``, its features are projected, brought to the steps' resolution and added
    to every step's stem; the projections start at zero, so a net trained without them grows into
    one with them (``grow_into``) computing what it did.
    """
    width = config.attention_width
    image = keras.Input((None, None, 3), name="image")
    if config.attention_backbone_tuned:
        inputs = [image]
        features = list(backbone_features(config.attention_backbone, config.attention_backbone_stages,
                                          "tuned_backbone", tuned=True)(image))
    else:
        features = backbone_inputs(config.attention_backbone, config.attention_backbone_stages)
        inputs = [image, *features]
    small = image
    if config.attention_scale > 1:
        small = layers.AveragePooling2D(config.attention_scale, padding="same", name="downscale")(image)
    context = _feature_context(features, config, small)
    stem = layers.Conv2D(width, 3, padding="same", activation="relu", name="stem")
    blocks = [ResidualBlock(width, name=f"block_{i}") for i in range(config.attention_blocks)]
    cell = ConvLSTMCell(width, name="conv_lstm")
    head = layers.Conv2D(1, 3, padding="same", activation="sigmoid", dtype="float32", name="attention")

    attention = ops.ones_like(small[..., :1]) * 0.5
    hidden = cell_state = None
    maps = []
    for _ in range(config.attention_steps):
        x = stem(ops.concatenate([small, ops.cast(attention, small.dtype)], axis=-1))
        if context is not None:
            x = x + ops.cast(context, x.dtype)
        for block in blocks:
            x = block(x)
        if hidden is None:
            hidden = cell_state = ops.zeros_like(x)
        hidden, cell_state = cell(x, hidden, cell_state)
        attention = head(hidden)
        maps.append(attention)
    maps = layers.Concatenate(name="attention_maps", dtype="float32")(maps)
    if config.attention_scale > 1:
        maps = layers.UpSampling2D(config.attention_scale, interpolation="nearest", name="upscale",
                                   dtype="float32")(maps)
        maps = CropLike(name="upscaled_maps", dtype="float32")(maps, image)
    return keras.Model(inputs, maps, name=name)


def _feature_context(features: list, config: ModelConfig, small):
    """The sum of the backbone's features, each projected to the net's width and brought to the
    resolution of ``small`` (bilinear up, average down), or None without features."""
    if not features:
        return None
    projected = []
    levels = backbone_levels(config.attention_backbone, config.attention_backbone_stages)
    for stage, (feature, level) in enumerate(zip(features, levels), start=1):
        x = layers.Conv2D(config.attention_width, 1, kernel_initializer="zeros",
                          name=f"features_{stage}_projection")(feature)
        factor = 2 ** level / config.attention_scale
        if factor > 1:
            x = BilinearUpsampling(int(factor), name=f"features_{stage}_upsampled")(x)
        elif factor < 1:
            x = layers.AveragePooling2D(int(1 / factor), padding="same", name=f"features_{stage}_downsampled")(x)
        projected.append(CropLike(name=f"features_{stage}_cropped")(x, small))
    return projected[0] if len(projected) == 1 else layers.Add(name="feature_context")(projected)
