"""The one image reader of rrgan, shared by remove, eval, data conversion and training.

Whatever the file holds (JPEG, PNG 8/16-bit, gray, RGBA, BMP, GIF, TIFF, WebP) becomes upright 8-bit
RGB here, so nothing downstream has to care: EXIF orientation is applied, alpha is dropped, gray is
repeated, 16-bit is scaled, a GIF gives its first frame. A file that cannot be read, or that is
larger than ``max_pixels`` by its header (a decompression bomb, or a photo no CPU should take in
one piece), is an RRGANError naming the file and the reason, before anything is decoded.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

from rrgan.errors import RRGANError

DEFAULT_MAX_PIXELS = 100_000_000  # as Pillow's guard against decompression bombs, about 100 megapixels
READABLE = "JPEG, PNG, BMP, GIF, TIFF or WebP"
# Formats tf.io.decode_image reads as they are; others are re-encoded as PNG for the TF pipeline.
_TF_FORMATS = ("JPEG", "PNG", "BMP", "GIF")
_EXIF_ORIENTATION = 0x0112
_SAVE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF", ".tif": "TIFF",
                 ".tiff": "TIFF", ".webp": "WEBP"}
WRITABLE_SUFFIXES = tuple(_SAVE_FORMATS)


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Encoded bytes (as ``load_encoded`` gives them) to uint8 [H, W, 3], in a TF graph."""
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _open(data: bytes, name, max_pixels: int) -> Image.Image:
    if not data:
        raise RRGANError(f"{name}: empty file")
    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # ours, below, is the limit
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise RRGANError(f"{name}: not an image rrgan can read (it reads {READABLE})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    width, height = image.size
    if width * height > max_pixels:
        raise RRGANError(f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, over the limit of "
                         f"{max_pixels / 1e6:.0f} (raise it with --max-megapixels)")
    return image


def _to_rgb8(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit (or float) gray
        gray = np.asarray(image, np.float64)
        if gray.max(initial=0) > 255:
            gray = gray / 257.0
        return np.repeat(np.clip(np.round(gray), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"), np.uint8)


def decode_bytes(data: bytes, name: str | Path = "image", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded bytes to upright uint8 RGB [H, W, 3], or an RRGANError naming ``name`` and the reason."""
    image = _open(data, name, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit was checked
            image.seek(0)
            return _to_rgb8(ImageOps.exif_transpose(image))
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise RRGANError(f"{name}: cannot decode ({err})") from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise RRGANError(f"{path}: cannot read ({err.strerror})") from None


def read_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A file as upright uint8 RGB [H, W, 3], or an error that names the file and the reason."""
    path = Path(path)
    return decode_bytes(_read_bytes(path), path, max_pixels)


def load_encoded(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[bytes, tuple[int, int]]:
    """A file as bytes that ``decode_rgb`` turns into what ``read_rgb`` gives, and its (height, width).

    The file's own bytes when TF decodes them as they are (JPEG, PNG, BMP, GIF without an EXIF
    rotation); otherwise the upright image re-encoded as PNG. The file is decoded once, so a
    truncated file fails here, by name, not later inside a tf.data pipeline.
    """
    path = Path(path)
    data = _read_bytes(path)
    rgb = decode_bytes(data, path, max_pixels)
    image = Image.open(io.BytesIO(data))
    rotated = image.getexif().get(_EXIF_ORIENTATION, 1) != 1
    if image.format not in _TF_FORMATS or rotated:
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="PNG")
        data = buffer.getvalue()
    return data, rgb.shape[:2]


def encode_image(image: np.ndarray, suffix: str, jpeg_quality: int = 95) -> bytes:
    """uint8 RGB [H, W, 3] to the bytes of a file named ``*suffix`` (.jpg, .png, .bmp, .gif, .tif, .webp)."""
    image_format = _SAVE_FORMATS.get(suffix.lower())
    if image_format is None:
        raise RRGANError(f"cannot write {suffix or 'files without a suffix'}: rrgan writes "
                         f"{', '.join(sorted(_SAVE_FORMATS))}")
    options = {"quality": jpeg_quality} if image_format in ("JPEG", "WEBP") else {}
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, **options)
    return buffer.getvalue()
