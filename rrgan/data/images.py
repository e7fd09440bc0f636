"""Image decoding shared by the pipeline, the record writer and the CLI.

Whatever the file holds (grayscale, RGBA, 16-bit PNG, JPEG, BMP), it becomes 8-bit RGB here,
so nothing downstream has to care.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from rrgan.errors import RRGANError


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Encoded bytes to uint8 [H, W, 3]; graph-safe. Alpha is dropped, gray is repeated, 16-bit is scaled."""
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def check_image(encoded: bytes, path: Path | str) -> tuple[int, int]:
    """Decode once to prove the bytes are a readable image; returns (height, width) or raises by name."""
    if not encoded:
        raise RRGANError(f"{path}: empty file")
    try:
        image = decode_rgb(tf.constant(encoded))
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        reason = err.message.splitlines()[0] if err.message else "cannot decode"
        raise RRGANError(f"{path}: not a readable image ({reason})") from None
    return int(image.shape[0]), int(image.shape[1])


def read_rgb(path: str | Path) -> np.ndarray:
    """A file as uint8 RGB [H, W, 3], or an error that names the file and the reason."""
    path = Path(path)
    try:
        encoded = path.read_bytes()
    except OSError as err:
        raise RRGANError(f"{path}: cannot read ({err.strerror})") from None
    check_image(encoded, path)
    return decode_rgb(tf.constant(encoded)).numpy()
