"""The one image reader, and every kind of file a user points rrgan-remove at: processed or named."""

import struct
import zlib

import numpy as np
import pytest
from conftest import random_image, random_networks, write_image
from PIL import Image

from rrgan.cli import remove_main
from rrgan.config import preset
from rrgan.data.images import load_encoded, read_rgb
from rrgan.errors import RRGANError
from rrgan.export import save_weights


def _pillow(path, image, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def _rotated_jpeg(path):
    """A 20 x 10 (width x height) JPEG tagged EXIF orientation 6: upright it is 10 wide, 20 high."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _pillow(path, Image.fromarray(random_image(3, 10, 20)), exif=exif, quality=95)


@pytest.mark.parametrize("suffix", [".tif", ".webp", ".bmp", ".png"])
def test_lossless_formats_read_exactly(tmp_path, suffix):
    image = random_image(1, 12, 17)
    options = {"lossless": True} if suffix == ".webp" else {}
    path = _pillow(tmp_path / f"photo{suffix}", Image.fromarray(image), **options)
    np.testing.assert_array_equal(read_rgb(path), image)


def test_gif_gives_its_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((8, 8, 3), value, np.uint8)) for value in (0, 255)]
    path = _pillow(tmp_path / "anim.gif", frames[0], save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(read_rgb(path), 0)


def test_exif_orientation_is_applied_everywhere(tmp_path):
    path = _rotated_jpeg(tmp_path / "portrait.jpg")
    upright = read_rgb(path)
    assert upright.shape == (20, 10, 3)
    import tensorflow as tf

    from rrgan.data.images import decode_rgb

    data, size = load_encoded(path)  # what conversion and training get: re-encoded upright
    assert size == (20, 10)
    np.testing.assert_array_equal(decode_rgb(tf.constant(data)).numpy(), upright)


def _png_header_only(path, width, height):
    """A PNG that declares its size and holds no pixels: only a reader that stops at the header
    can answer quickly."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_size_guard_reads_the_header_only(tmp_path):
    path = _png_header_only(tmp_path / "bomb.png", 20000, 20000)  # 1.2 GB decoded
    with pytest.raises(RRGANError, match=r"bomb.png: 20000x20000 is 400 megapixels, over the limit of 100"):
        read_rgb(path)


def test_bad_input_sweep_through_rrgan_remove(tmp_path, capsys):
    photos = tmp_path / "photos"
    write_image(photos / "good.jpg", random_image(0, 40, 48))
    (photos / "zero.jpg").write_bytes(b"")
    full = (photos / "good.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(full[: len(full) // 3])
    (photos / "text.jpg").write_text("not a photo at all")
    write_image(photos / "one.png", random_image(1, 1, 1))
    write_image(photos / "two.png", random_image(2, 2, 2))
    write_image(photos / "deep.png", random_image(3, 9, 7).astype(np.uint16) * 257)
    write_image(photos / "gray.png", random_image(4, 9, 7, channels=1)[..., 0])
    write_image(photos / "rgba.png", random_image(5, 9, 7, channels=4))
    _pillow(photos / "photo.tif", Image.fromarray(random_image(6, 30, 20)))
    _pillow(photos / "photo.webp", Image.fromarray(random_image(7, 30, 20)), lossless=True)
    _pillow(photos / "anim.gif", Image.fromarray(random_image(8, 16, 16)))
    _rotated_jpeg(photos / "portrait.jpg")
    write_image(photos / "huge.png", random_image(9, 60, 60))  # over the limit set below

    model = save_weights(random_networks(), preset("tiny"), tmp_path / "weights")
    status = remove_main([str(photos), "-o", str(tmp_path / "out"), "--model", str(model), "--quiet",
                          "--max-megapixels", "0.0025", "--tile", "32", "--overlap", "8"])
    err = capsys.readouterr().err
    assert status == 1  # something was skipped
    assert "Traceback" not in err
    reasons = {"zero.jpg": "empty file", "truncated.jpg": "cannot decode", "text.jpg": "not an image",
               "huge.png": "over the limit"}
    for name, reason in reasons.items():
        assert any(name in line and reason in line for line in err.splitlines()), (name, err)
    written = {p.name: read_rgb(p).shape for p in (tmp_path / "out").iterdir()}
    assert written == {"good.jpg": (40, 48, 3), "one.png": (1, 1, 3), "two.png": (2, 2, 3), "deep.png": (9, 7, 3),
                       "gray.png": (9, 7, 3), "rgba.png": (9, 7, 3), "photo.tif": (30, 20, 3),
                       "photo.webp": (30, 20, 3), "anim.gif": (16, 16, 3), "portrait.jpg": (20, 10, 3)}
