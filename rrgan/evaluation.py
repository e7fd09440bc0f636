"""Image-quality metrics by the field's protocol: PSNR and SSIM on uint8 RGB, data range 255."""

from __future__ import annotations

import tensorflow as tf

SSIM_WINDOW = "Gaussian 11x11, sigma 1.5 (tf.image.ssim)"


def quantize(images: tf.Tensor) -> tf.Tensor:
    """Float images in [0, 1] to the uint8 values a saved photo would have."""
    return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)


def psnr_ssim(prediction: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-image PSNR (dB) and SSIM of float [B, H, W, 3] images, measured after quantizing to uint8.

    SSIM uses ``SSIM_WINDOW``; scikit-image's default (7x7 uniform) gives slightly different values.
    """
    prediction, target = quantize(prediction), quantize(target)
    return tf.image.psnr(prediction, target, max_val=255), tf.image.ssim(prediction, target, max_val=255)
