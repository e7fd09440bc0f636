"""The four networks of rrgan, one per file, and the call that builds them all from a config."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from rrgan.config import ModelConfig
from rrgan.models.attention_net import build_attention_net
from rrgan.models.discriminator import build_discriminator
from rrgan.models.edge_net import build_edge_net
from rrgan.models.generator import build_generator


@dataclass(frozen=True)
class Networks:
    """Edge-net, Attention-net, generator and discriminator of one run."""

    edge_net: keras.Model
    attention_net: keras.Model
    generator: keras.Model
    discriminator: keras.Model

    def remove_reflection(self, images, training: bool = False) -> dict:
        """Photos [B, H, W, 3] in [0, 1] -> transmission, reflection, final attention and edge maps."""
        images = keras.ops.convert_to_tensor(images, "float32")
        attention_maps = self.attention_net(images, training=training)
        edges = self.edge_net(images, training=training)
        outputs = self.generator([images, edges, attention_maps[..., -1:]], training=training)
        return {**outputs, "attention_maps": attention_maps, "attention": attention_maps[..., -1:], "edge": edges}


def build_networks(config: ModelConfig) -> Networks:
    return Networks(edge_net=build_edge_net(config), attention_net=build_attention_net(config),
                    generator=build_generator(config), discriminator=build_discriminator(config))


__all__ = ["Networks", "build_networks", "build_attention_net", "build_discriminator", "build_edge_net",
           "build_generator"]
