"""Working size: the model sees the photo downscaled to at most ``working_pixels``; what it changed
(its correction, output minus input) and its maps are upsampled to full size, and the correction is
added to the full-size photo there, so the photo keeps its own fine detail.

A reflection is a smooth, out-of-focus layer: its correction needs no more pixels than the model
was trained on, and a 24 MP photo then costs about what a 1 MP one does. In TensorFlow ops, used in
the graph of an export (``rrgan.export``) and eagerly by the Python path (``rrgan.inference``).
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from rrgan.errors import RRGANError

WORKING_PIXELS = 1_000_000  # the default of rrgan-remove, rrgan-eval and rrgan-demo; 0: full size


def check_working_pixels(working_pixels: int) -> None:
    if working_pixels < 0:
        raise RRGANError(f"the working size must be positive (or 0 for full size), got {working_pixels} pixels")


def working_shape(height, width, working_pixels: int) -> tf.Tensor:
    """int32 [2]: the size of a photo scaled down, aspect kept, to at most ``working_pixels`` (at
    least 1x1); its own size when it fits or ``working_pixels`` is 0."""
    size = tf.cast(tf.stack([height, width]), tf.float64)
    if not working_pixels:
        return tf.cast(size, tf.int32)
    scale = tf.sqrt(tf.minimum(tf.constant(working_pixels, tf.float64) / (size[0] * size[1]), 1.0))
    return tf.cast(tf.maximum(tf.floor(size * scale), 1.0), tf.int32)


def at_working_size(run: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """``run`` (uint8 [N, h, w, 3] -> float32 [N, h, w, C]: the transmission in [0, 1] in its first three
    channels, maps after) on ``images`` (uint8 [N, H, W, 3]) downscaled to ``size`` with antialiasing;
    returns float32 [N, H, W, C]: the full-size images plus the transmission's upsampled correction
    (unclipped), and the other channels upsampled (bilinear)."""
    full_size = tf.shape(images)[1:3]
    small = tf.cast(tf.round(tf.clip_by_value(tf.image.resize(images, size, antialias=True), 0, 255)), tf.uint8)
    outputs = run(small)
    correction = outputs[..., :3] - tf.cast(small, tf.float32) / 255.0
    upsampled = tf.image.resize(tf.concat([correction, outputs[..., 3:]], axis=-1), full_size)
    return tf.concat([tf.cast(images, tf.float32) / 255.0 + upsampled[..., :3], upsampled[..., 3:]], axis=-1)
