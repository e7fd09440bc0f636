"""The networks of rrgan, one per file, and the one place where they are wired together."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras

from rrgan.config import ModelConfig
from rrgan.layers import dtype_policy
from rrgan.models.attention_net import build_attention_net
from rrgan.models.backbone import build_attention_backbone, build_backbone
from rrgan.models.discriminator import build_discriminator
from rrgan.models.edge_net import build_edge_net
from rrgan.models.level_net import build_level_net
from rrgan.models.nafnet import build_nafnet_generator
from rrgan.models.presence_net import build_presence_net, presence_head
from rrgan.models.unet import build_unet_generator


@dataclass(frozen=True)
class Networks:
    """Edge-net, Attention-net, generator and discriminator of one run, the frozen pretrained
    backbone (None without one) whose features the Edge-net and the generator share, the one the
    Attention-net reads (None without one; ``backbone`` itself when they are the same), and the
    Level-net (None without one) with the settings of its whole-photo step (``rrgan.level``).

    ``guidance`` and ``generate`` are the wiring (photo -> backbone features, attention, edges ->
    generator), used by training, export and inference alike; ``remove_reflection`` works on
    tiles, the Level-net's step on the whole photo after them.
    """

    edge_net: keras.Model
    attention_net: keras.Model
    generator: keras.Model
    discriminator: keras.Model
    backbone: keras.Model | None = None
    attention_backbone: keras.Model | None = None
    level_net: keras.Model | None = None
    level_mix: float = 0.0
    level_thumbnail: int = 128
    presence_net: keras.Model | None = None
    presence_odds: float = 1.0

    def guidance(self, images, training: bool = False) -> dict:
        """What the generator is given besides the photo: ``features`` (list), ``attention_maps``
        [B, H, W, N] and ``edge`` [B, H, W, 1]."""
        features = _features(self.backbone, images)
        attention_features = features if self.attention_backbone is self.backbone else _features(
            self.attention_backbone, images)
        attention_maps = self.attention_net([images, *attention_features], training=training)
        edges = self.edge_net([images, *features], training=training)
        return {"features": features, "attention_maps": attention_maps, "edge": edges}

    def generate(self, images, guidance: dict, training: bool = False) -> dict:
        """The generator's outputs for photos and their ``guidance``."""
        return self.generator([images, guidance["edge"], guidance["attention_maps"][..., -1:],
                               *guidance["features"]], training=training)

    def remove_reflection(self, images, training: bool = False) -> dict:
        """Photos [B, H, W, 3] in [0, 1] -> transmission, reflection, final attention and edge maps."""
        images = keras.ops.convert_to_tensor(images, "float32")
        guidance = self.guidance(images, training)
        outputs = self.generate(images, guidance, training)
        return {**outputs, "attention_maps": guidance["attention_maps"],
                "attention": guidance["attention_maps"][..., -1:], "edge": guidance["edge"]}

    @property
    def presence_head(self) -> keras.Model | None:
        """The Presence-net's own layers (it reads the Level-net's): what its stage trains and saves."""
        return None if self.presence_net is None else presence_head(self.presence_net)

    def with_generator(self, generator: keras.Model) -> "Networks":
        """The same networks with another generator (the EMA one, as users get it)."""
        return dataclasses.replace(self, generator=generator)


def _features(backbone: keras.Model | None, images) -> list:
    return list(backbone(images, training=False)) if backbone is not None else []


def grow_into(trained: keras.Model, grown: keras.Model) -> None:
    """Copy a trained network's weights, layer by layer by name, into one of a config it
    ``grows_into``: the layers it lacks keep their start (bottleneck blocks as the identity,
    feature projections at zero, a tuned backbone at its pretrained weights), so ``grown``
    computes what ``trained`` did. Layers without weights (inputs among them) are not matched."""
    for layer in trained.layers:
        if layer.weights:
            grown.get_layer(layer.name).set_weights(layer.get_weights())


GENERATOR_BUILDERS = {"unet": build_unet_generator, "nafnet": build_nafnet_generator}


def build_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """The generator of ``config.generator``'s architecture (all share one contract:
    ``rrgan.models.generator``)."""
    return GENERATOR_BUILDERS[config.generator](config, name)


def build_networks(config: ModelConfig) -> Networks:
    """The networks of ``config``; the Level-net and Presence-net in float32 whatever the dtype
    policy: they are cheap (a thumbnail), and each sets every pixel of the output."""
    level_net, presence_net = None, None
    with dtype_policy("float32"):
        if config.level_net:
            level_net = build_level_net(config)
        if config.presence_net:
            presence_net = build_presence_net(level_net, config.presence_hidden)
    backbone = build_backbone(config)
    return Networks(edge_net=build_edge_net(config), attention_net=build_attention_net(config),
                    generator=build_generator(config), discriminator=build_discriminator(config),
                    backbone=backbone, attention_backbone=build_attention_backbone(config, backbone),
                    level_net=level_net, level_mix=config.level_mix, level_thumbnail=config.level_thumbnail,
                    presence_net=presence_net, presence_odds=config.presence_odds)


__all__ = ["Networks", "build_networks", "build_attention_net", "build_backbone", "build_discriminator",
           "build_edge_net", "build_generator", "build_level_net", "build_presence_net",
           "grow_into"]
