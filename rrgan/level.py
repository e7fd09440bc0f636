"""The whole-photo step: after the networks have made the transmission tile by tile, its low
frequencies are moved ``mix`` of the way to the photo under the Level-net's field (or as far as the
net says, per cell, with a learned mix); then, with a Presence-net, the output is moved back toward
the photo by the probability it gives that the photo holds no reflection.

The field has a cell per 16 pixels of a thumbnail whose short side is ``model.level_thumbnail``:
a 24 MP photo has about 8 x 12 cells. The photo and the transmission are averaged down to those
cells, the correction is computed there and upsampled and added to the full-size transmission in
bands of rows (``rrgan.working_size.at_working_size``), so the step costs the memory of its
output. In TensorFlow ops, used in the graph of an export (``rrgan.export``) and eagerly by
``rrgan.inference`` and validation.
"""

from __future__ import annotations

import tensorflow as tf

from rrgan.metrics import quantize
from rrgan.models import Networks
from rrgan.models.level_net import CELL, learns_mix, toward_field
from rrgan.models.presence_net import gated, presence
from rrgan.working_size import at_working_size, in_bands


def thumbnail_shape(height, width, short_side: int) -> tf.Tensor:
    """int32 [2]: a photo's size scaled to ``short_side`` on its short side, the long side rounded to
    a multiple of the field's cell (the aspect then differs by less than 1/16 of a cell per side)."""
    size = tf.cast(tf.stack([height, width]), tf.float64)
    scaled = size * short_side / tf.reduce_min(size)
    cells = tf.maximum(tf.round(scaled / CELL), short_side // CELL)
    return tf.cast(cells * CELL, tf.int32)


def thumbnail(images: tf.Tensor, short_side: int) -> tf.Tensor:
    """uint8 photos [N, H, W, 3] as the whole-photo nets see them: area-averaged to ``thumbnail_shape``,
    float32 in [0, 1]."""
    shape = tf.shape(images)
    return tf.image.resize(images, thumbnail_shape(shape[1], shape[2], short_side), "area") / 255.0


def level_step(networks: Networks, images: tf.Tensor, transmission: tf.Tensor) -> tf.Tensor:
    """``transmission`` (uint8 [N, H, W, 3], the networks' output for ``images``, uint8 too) with its
    low frequencies moved toward those of ``images`` under the field of ``networks.level_net`` (by
    ``networks.level_mix``, or the net's own mix per cell), then gated by ``networks.presence_net``;
    uint8 [N, H, W, 3]. Without a Level-net (a Presence-net needs one), ``transmission`` as it is."""
    if networks.level_net is None:
        return transmission
    small = thumbnail(images, networks.level_thumbnail)
    transmission = _levelled(networks, images, transmission, small)
    if networks.presence_net is not None:
        probability = presence(networks.presence_net(small, training=False), networks.presence_odds)[:, 0]

        def judged(image_rows, transmission_rows, image_index):
            photo, corrected = (tf.cast(rows, tf.float32) / 255.0 for rows in (image_rows, transmission_rows))
            return quantize(gated(photo, corrected, tf.gather(probability, image_index)[:, None, None]))

        transmission = in_bands(judged, images, transmission)
    return transmission


def _levelled(networks: Networks, images: tf.Tensor, transmission: tf.Tensor, small: tf.Tensor) -> tf.Tensor:
    inputs = small
    if learns_mix(networks.level_net):
        inputs = [inputs, tf.image.resize(transmission, tf.shape(small)[1:3], "area") / 255.0]
    output = tf.cast(networks.level_net(inputs, training=False), tf.float32)
    cells = tf.shape(output)[1:3]
    photo = tf.image.resize(images, cells, antialias=True) / 255.0

    def corrected(small):
        return toward_field(photo, tf.cast(small, tf.float32) / 255.0, output, networks.level_mix)

    return at_working_size(corrected, transmission, cells)[0]


def levelled_transmission(networks: Networks, images: tf.Tensor) -> tf.Tensor:
    """Whole photos (float [N, H, W, 3] in [0, 1]) through the networks and the level step, as a
    user gets them: the transmission in [0, 1], quantized as a saved photo would be (validation)."""
    transmission = quantize(networks.remove_reflection(images)["transmission"])
    return tf.cast(level_step(networks, quantize(images), transmission), tf.float32) / 255.0
