"""Overlapping tiles: where they start along an axis, and how their outputs blend.

One definition in TensorFlow ops, used in the graph that TF Serving runs (``rrgan.export``) and,
eagerly, by the Python path (``rrgan.inference``), so both cut a photo the same way. A tile's
output is weighted by a ramp that falls towards its borders, except at the photo's own borders,
so seams are invisible; memory is bounded by the tile size whatever the photo size.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from rrgan.errors import RRGANError


def check_tiles(tile: int, overlap: int) -> None:
    """Tiles must overlap by less than half their size, or a pixel could sit in three of them."""
    if overlap * 2 >= tile:
        raise RRGANError(f"tile overlap ({overlap}) must be less than half the tile size ({tile})")


def tile_grid(size, tile: int, overlap: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Start of each tile along an axis of ``size`` pixels, and the tiles' common length: the fewest
    tiles of at most ``tile`` pixels that overlap by at least ``overlap``, sharing the axis evenly
    (a 1024-pixel side takes three 384-pixel tiles, not three of 512 whose last overlaps by 448:
    2.3x fewer pixels through the network at 1 megapixel). One tile at 0 when the axis fits in one."""
    size = tf.cast(size, tf.int32)
    count = tf.where(size <= tile, 1, (size - overlap + tile - overlap - 1) // (tile - overlap))
    length = (size + (count - 1) * overlap + count - 1) // count  # at most ``tile``, by the count
    return tf.minimum(tf.range(count) * (length - overlap), size - length), length


def tile_weights(length, overlap: int, at_start, at_end) -> tf.Tensor:
    """Blending weights along a tile's axis: 1 in the middle, rising over ``overlap`` pixels at a
    border that is not the photo's own."""
    position = tf.cast(tf.range(length), tf.float32)
    rising = tf.minimum((position + 0.5) / overlap, 1.0)
    falling = tf.minimum((tf.cast(length, tf.float32) - position - 0.5) / overlap, 1.0)
    weights = tf.ones_like(position)
    weights = tf.where(at_start, weights, tf.minimum(weights, rising))
    return tf.where(at_end, weights, tf.minimum(weights, falling))


def _axis(size, tile: int, overlap: int):
    starts, length = tile_grid(size, tile, overlap)

    def weights(start):
        return tile_weights(length, overlap, tf.equal(start, 0), tf.equal(start + length, size))

    # The weights are separable, so their sum over the grid is the product of per-axis sums.
    placed = tf.map_fn(lambda start: tf.pad(weights(start), [[start, size - start - length]]), starts,
                       fn_output_signature=tf.float32)
    return starts, length, weights, tf.reduce_sum(placed, axis=0)


def blend_tiles(run: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor, channels: int, tile: int,
                overlap: int) -> tf.Tensor:
    """``run`` (images [N, h, w, 3] -> float32 [N, h, w, channels]) over ``images`` [N, H, W, 3] in
    overlapping tiles, one after another, blended into float32 [N, H, W, channels]."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    row_starts, tile_height, row_weights, row_total = _axis(height, tile, overlap)
    column_starts, tile_width, column_weights, column_total = _axis(width, tile, overlap)
    columns = tf.size(column_starts)

    def body(index, total):
        top, left = row_starts[index // columns], column_starts[index % columns]
        outputs = run(images[:, top:top + tile_height, left:left + tile_width])
        weights = row_weights(top)[:, None, None] * column_weights(left)[None, :, None]
        begin, end = tf.stack([0, top, left, 0]), tf.stack([batch, top + tile_height, left + tile_width, channels])
        updated = total[:, top:top + tile_height, left:left + tile_width] + outputs * weights
        return index + 1, tf.raw_ops.TensorStridedSliceUpdate(input=total, begin=begin, end=end,
                                                              strides=tf.ones([4], tf.int32), value=updated)

    total = tf.zeros(tf.stack([batch, height, width, channels]))
    _, total = tf.while_loop(lambda index, _: index < tf.size(row_starts) * columns, body, [0, total],
                             parallel_iterations=1)
    return total / (row_total[None, :, None, None] * column_total[None, None, :, None])
