"""The light the Level-net's field takes out of each pixel, scaled to an attention map: the map this
probe gives the generator in place of the Attention-net's last one (benchmarks/guidance.py's
``level_map``, clipped at a quarter of full scale, so its mean sits near the Attention-net's)."""

import tensorflow as tf

from rrgan.level import thumbnail
from rrgan.metrics import quantize
from rrgan.models.level_net import toward_field

SCALE = 4.0


def level_attention(networks, images: tf.Tensor) -> tf.Tensor:
    """float [B, H, W, 3] in [0, 1] -> [B, H, W, 1] in [0, 1]."""
    field = tf.cast(networks.level_net(thumbnail(quantize(images), networks.level_thumbnail), training=False),
                    tf.float32)
    photo = tf.image.resize(images, tf.shape(field)[1:3], antialias=True)
    removed = tf.reduce_mean(photo - toward_field(photo, photo, field, 1.0), -1, keepdims=True)
    return tf.clip_by_value(SCALE * tf.image.resize(removed, tf.shape(images)[1:3], "bilinear"), 0.0, 1.0)
