"""The light the Level-net's field takes out of each pixel (benchmarks/guidance.py's ``level_map``),
scaled to an attention map: the map this probe gives the generator in place of the Attention-net's
last one, clipped at a quarter of full scale so that its mean sits near the Attention-net's."""

import sys
from pathlib import Path

import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from guidance import level_map  # noqa: E402

SCALE = 4.0


def level_attention(networks, images: tf.Tensor) -> tf.Tensor:
    """float [B, H, W, 3] in [0, 1] -> [B, H, W, 1] in [0, 1]."""
    return tf.clip_by_value(SCALE * level_map(networks, images), 0.0, 1.0)
