"""Working size: the model sees the photo downscaled to at most ``working_pixels``; what it changed
(its correction, output minus input) and its maps are upsampled to full size, and the correction is
added to the full-size photo there, so the photo keeps its own fine detail.

A reflection is a smooth, out-of-focus layer: its correction needs no more pixels than the model
was trained on, and a 24 MP photo then costs about what a 1 MP one does. The full-size work is done
in bands of rows, so its memory is that of the outputs, not of float copies of the photo. In
TensorFlow ops, used in the graph of an export (``rrgan.export``) and eagerly by ``rrgan.inference``.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from rrgan.errors import RRGANError

BAND = 256  # rows of the full-size photo upsampled and corrected at a time


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


def at_working_size(run: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor,
                    size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``run`` (uint8 [N, h, w, 3] -> float32 [N, h, w, C]: the transmission in [0, 1] in its first three
    channels, maps after) on ``images`` (uint8 [N, H, W, 3]) downscaled to ``size`` with antialiasing.
    Returns the full-size images plus the transmission's upsampled correction, uint8 [N, H, W, 3], and
    the maps upsampled, float32 [N, H, W, C - 3] (bilinear, half-pixel centres, as ``tf.image.resize``)."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    small = tf.cast(tf.round(tf.clip_by_value(tf.image.resize(images, size, antialias=True), 0, 255)), tf.uint8)
    outputs = run(small)
    changes = tf.concat([outputs[..., :3] - tf.cast(small, tf.float32) / 255.0, outputs[..., 3:]], axis=-1)
    # The images' rows one after another, so that bands of rows make the outputs without a transpose.
    changes = tf.reshape(changes, tf.concat([[-1], tf.shape(changes)[2:]], axis=0))  # [N * h, w, C]
    rows = tf.reshape(images, [-1, width, 3])  # [N * H, W, 3]

    def band(first, last):
        """Rows ``first`` to ``last`` of the flattened full-size outputs."""
        count = last - first
        row = tf.range(first, last)
        image, y = row // height, row % height
        source = tf.maximum((tf.cast(y, tf.float32) + 0.5) * tf.cast(size[0] / height, tf.float32) - 0.5, 0.0)
        lower = tf.cast(tf.floor(source), tf.int32)
        fraction = (source - tf.floor(source))[:, None, None]
        upper = image * size[0] + tf.minimum(lower + 1, size[0] - 1)
        lower = image * size[0] + lower
        resampled = tf.gather(changes, lower) * (1.0 - fraction) + tf.gather(changes, upper) * fraction
        upsampled = tf.image.resize(resampled[None], tf.stack([count, width]))[0]  # columns only
        corrected = tf.cast(rows[first:last], tf.float32) / 255.0 + upsampled[..., :3]
        return tf.cast(tf.round(tf.clip_by_value(corrected, 0.0, 1.0) * 255.0), tf.uint8), upsampled[..., 3:]

    transmission, maps = _banded(band, batch * height, (tf.uint8, tf.float32))
    return (tf.reshape(transmission, [batch, height, width, 3]),
            tf.reshape(maps, tf.stack([batch, height, width, tf.shape(changes)[-1] - 3])))


def in_bands(combine: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor], images: tf.Tensor,
             others: tf.Tensor) -> tf.Tensor:
    """``combine`` (uint8 rows [n, W, 3] of ``images`` and of ``others``, and the index of the image
    each row is of, int32 [n] -> uint8 [n, W, 3]) over two uint8 [N, H, W, 3] batches of one shape,
    ``BAND`` rows at a time: a pixel-wise step on a 24 MP photo without float copies of it."""
    shape = tf.shape(images)
    image_rows, other_rows = tf.reshape(images, [-1, shape[2], 3]), tf.reshape(others, [-1, shape[2], 3])

    def band(first, last):
        return (combine(image_rows[first:last], other_rows[first:last], tf.range(first, last) // shape[1]),)

    return tf.reshape(_banded(band, shape[0] * shape[1], (tf.uint8,))[0], shape)


def _banded(band: Callable, rows: tf.Tensor, dtypes: tuple) -> list[tf.Tensor]:
    """``band(first, last)`` (a tuple of tensors of ``dtypes``, rows ``first`` to ``last`` each) over
    ``rows`` rows, ``BAND`` at a time, one after another; each output's bands concatenated."""
    count = (rows + BAND - 1) // BAND
    arrays = [tf.TensorArray(dtype, size=count, infer_shape=False) for dtype in dtypes]

    def body(index, *arrays):
        first = index * BAND
        parts = band(first, tf.minimum(first + BAND, rows))
        return (index + 1, *(array.write(index, part) for array, part in zip(arrays, parts)))

    _, *arrays = tf.while_loop(lambda index, *_: index < count, body, [0, *arrays], parallel_iterations=1)
    return [array.concat() for array in arrays]
