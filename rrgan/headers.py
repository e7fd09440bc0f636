"""How many pixels an encoded image will decode to, read from its header in TF ops.

A SavedModel checks this against its limit before it decodes anything: a 388 KB PNG can declare
20000x20000 pixels, and decoding it first is what takes the memory. JPEG sizes come from
``tf.io.extract_jpeg_shape``, PNG and BMP sizes from their fixed header fields. A GIF's decoder
sizes the image by its frames, not by the screen the GIF declares, and holds every frame at once,
so every frame of a GIF is found: its size is the largest of the screen and its frames (an upper
bound), its pixels the larger of that area and the frames' total. Bytes in any other format
(WebP, JPEG XL, which ``tf.io.decode_image`` would also take) have no size here.
"""

from __future__ import annotations

import tensorflow as tf

FORMATS = "JPEG, PNG, GIF or BMP"
_JPEG, _PNG, _GIF, _BMP = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM"  # as tf.io.decode_image tells them
_HEAD = 32  # bytes read from the start (zeros past the end: a short header declares no pixels)
_GIF_PADDING = 16  # zeros after a GIF, so that a block's fields can be read past its end


def _number(data: tf.Tensor, start: int, count: int, big_endian: bool = False) -> tf.Tensor:
    """An unsigned integer of ``count`` bytes of ``data`` (one byte per element) at ``start``, as int64."""
    digits = tf.cast(data[start:start + count], tf.int64)
    weights = tf.constant([256 ** i for i in (reversed(range(count)) if big_endian else range(count))], tf.int64)
    return tf.reduce_sum(digits * weights)


def _signed32(value: tf.Tensor) -> tf.Tensor:
    return tf.where(value >= 2 ** 31, value - 2 ** 32, value)


def _color_table(packed: tf.Tensor) -> tf.Tensor:
    """Bytes of the colour table that a GIF descriptor's packed field announces."""
    return tf.where(packed >= 128, 3 * tf.bitwise.left_shift(tf.ones_like(packed) * 2, packed % 8), 0)


def _gif_size(encoded: tf.Tensor) -> tf.Tensor:
    """A GIF's blocks are a linked list (each says where the next one starts), followed here by
    pointer jumping over every position at once: a few rounds of gathers, so a GIF of a million
    one-byte blocks costs about what a plain one does, not a million loop steps."""
    data = tf.cast(tf.io.decode_raw(tf.strings.join([encoded, "\0" * _GIF_PADDING]), tf.uint8), tf.int32)
    end = tf.size(data) - _GIF_PADDING  # reads as a zero byte: every path stops there
    positions = tf.range(end + 1)

    def field(offset: int) -> tf.Tensor:
        """The byte at ``position + offset``, for every position."""
        return data[offset:offset + end + 1]

    def jump(targets, total, *maxima):
        """Follow ``targets`` (a position that points at itself ends a path) from every position to
        the end of its path, summing ``total`` and taking the maximum of ``maxima`` on the way. The
        rounds stop once every path has ended: after log2 of the longest one."""
        def round_(moving, targets, total, *maxima):
            onward = tf.gather(targets, targets)
            return (tf.reduce_any(tf.not_equal(onward, targets)), onward, total + tf.gather(total, targets),
                    *(tf.maximum(value, tf.gather(value, targets)) for value in maxima))

        return tf.while_loop(lambda moving, *_: moving, round_, [tf.constant(True), targets, total, *maxima])[1:]

    kind = field(0)
    # Data sub-blocks: a length byte and that many bytes; a zero length ends them.
    (sub_blocks_end, _) = jump(tf.where(tf.equal(kind, 0), positions, tf.minimum(positions + kind + 1, end)),
                               tf.zeros_like(positions))
    extension, image = tf.equal(kind, 0x21), tf.equal(kind, 0x2C)
    # An extension: introducer, label, sub-blocks. An image: descriptor, colour table, LZW code size, sub-blocks.
    data_start = tf.minimum(tf.where(extension, positions + 2, positions + 11 + _color_table(field(9))), end)
    next_block = tf.where(extension | image, tf.minimum(tf.gather(sub_blocks_end, data_start) + 1, end), positions)
    frame_width, frame_height = field(5) + 256 * field(6), field(7) + 256 * field(8)
    zero = tf.zeros_like(positions)
    _, frames, width, height = jump(next_block, tf.where(image, tf.cast(frame_width * frame_height, tf.int64), 0),
                                    tf.where(image, frame_width, zero), tf.where(image, frame_height, zero))
    start = tf.minimum(13 + _color_table(data[10]), end)  # header, logical screen descriptor, global colour table
    width = tf.maximum(tf.cast(width[start], tf.int64), _number(data, 6, 2))
    height = tf.maximum(tf.cast(height[start], tf.int64), _number(data, 8, 2))
    return tf.stack([height, width, tf.maximum(width * height, frames[start])])


def encoded_size(encoded: tf.Tensor) -> tf.Tensor:
    """int64 [height, width, pixels to decode] of one encoded image (a scalar string) by its
    header, without decoding it; [0, 0, -1] for bytes in none of the formats read here."""
    head = tf.strings.substr(tf.strings.join([encoded, "\0" * _HEAD]), 0, _HEAD)
    data = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int64)

    def starts_with(magic: bytes) -> tf.Tensor:
        return tf.equal(tf.strings.substr(head, 0, len(magic)), magic)

    def area(height, width):
        return tf.stack([height, width, height * width])

    def jpeg():
        shape = tf.cast(tf.io.extract_jpeg_shape(encoded), tf.int64)
        return area(shape[0], shape[1])

    def png():
        return area(_number(data, 20, 4, big_endian=True), _number(data, 16, 4, big_endian=True))

    def bmp():  # signed 32-bit fields as TF's decoder reads them; a negative height is a top-down image
        return area(tf.abs(_signed32(_number(data, 22, 4))), tf.abs(_signed32(_number(data, 18, 4))))

    def gif():
        return _gif_size(encoded)

    return tf.case([(starts_with(_JPEG), jpeg), (starts_with(_PNG), png), (starts_with(_GIF), gif),
                    (starts_with(_BMP), bmp)], default=lambda: tf.constant([0, 0, -1], tf.int64), exclusive=True)
