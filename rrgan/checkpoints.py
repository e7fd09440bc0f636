"""What a training checkpoint holds and where, named once for the trainer that writes it and the
loaders that read it: a renamed object fails loudly instead of loading half a model."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from rrgan.errors import RRGANError
from rrgan.models import Networks

CHECKPOINTS = "checkpoints"
BEST = "best"  # checkpoints/best/: the best model by validation, beside the latest ones
AVERAGE_GENERATOR = "generator_ema"


def network_objects(networks: Networks, average_generator: keras.Model | None) -> dict:
    """The networks' names in a checkpoint (the frozen backbone is not saved: it comes from its package)."""
    objects = dict(edge_net=networks.edge_net, attention_net=networks.attention_net, generator=networks.generator,
                   discriminator=networks.discriminator)
    if average_generator is not None:
        objects[AVERAGE_GENERATOR] = average_generator
    return objects


def best_or_latest(workdir: str | Path) -> str | None:
    """The checkpoint a user should get from a work dir: the best by validation, else the latest."""
    folder = Path(workdir) / CHECKPOINTS
    return tf.train.latest_checkpoint(str(folder / BEST)) or tf.train.latest_checkpoint(str(folder))


def restore_networks(path: str, networks: Networks, average_generator: keras.Model | None) -> None:
    """Restore only the networks of a full training checkpoint; every network must be found in it."""
    status = tf.train.Checkpoint(**network_objects(networks, average_generator)).restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as err:
        raise RRGANError(f"{path}: checkpoint does not hold these networks ({str(err).splitlines()[0]})") from None
    status.expect_partial()
