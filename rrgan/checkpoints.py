"""What a training checkpoint holds and where, named once for the trainer that writes it and the
loaders that read it: a renamed object fails loudly instead of loading half a model."""

from __future__ import annotations

import shutil
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
    objects.update(whole_photo_objects(networks))
    if average_generator is not None:
        objects[AVERAGE_GENERATOR] = average_generator
    return objects


def best_or_latest(workdir: str | Path) -> str | None:
    """The checkpoint a user should get from a work dir: the best by validation, else the latest."""
    return tf.train.latest_checkpoint(str(Path(workdir) / CHECKPOINTS / BEST)) or latest(workdir)


def latest(workdir: str | Path) -> str | None:
    """The latest checkpoint of a work dir."""
    return tf.train.latest_checkpoint(str(Path(workdir) / CHECKPOINTS))


def whole_photo_objects(networks: Networks) -> dict:
    """The networks of the whole-photo step (``rrgan.level``) that ``networks`` has, by checkpoint name."""
    return {name: getattr(networks, name) for name in ("level_net", "presence_head")
            if getattr(networks, name) is not None}


def restore_whole_photo_nets(path: str, networks: Networks) -> None:
    """The Level-net and Presence-net alone from a full training checkpoint: their stages train them
    after the generator's best checkpoint was kept, so a user's model takes them from the latest one."""
    objects = whole_photo_objects(networks)
    if not objects:
        return
    status = tf.train.Checkpoint(**objects).restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as err:
        raise RRGANError(f"{path}: checkpoint lacks the model's {' or '.join(objects)} "
                         f"({str(err).splitlines()[0]})") from None
    status.expect_partial()


def restore_networks(path: str, networks: Networks, average_generator: keras.Model | None) -> None:
    """Restore only the networks of a full training checkpoint; every network must be found in it."""
    status = tf.train.Checkpoint(**network_objects(networks, average_generator)).restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as err:
        raise RRGANError(f"{path}: checkpoint does not hold these networks ({str(err).splitlines()[0]})") from None
    status.expect_partial()


def save(manager: tf.train.CheckpointManager, checkpoint_number: int | None = None) -> str:
    """Save a checkpoint, or fail with an RRGANError that names the work dir's disk: a full disk
    otherwise ends a long run with a TF traceback. A failed write leaves the latest checkpoint as
    it was (it is only replaced once the new one is complete); its half-written files are removed."""
    try:
        return manager.save(checkpoint_number=checkpoint_number)
    except (OSError, tf.errors.OpError) as err:
        folder = Path(manager.directory)
        for partial in folder.glob("*_temp"):
            shutil.rmtree(partial, ignore_errors=True)
        # TF's message: "{{function_node ...}} <file>; No space left on device [Op:SaveV2]"
        reason = (err.strerror if isinstance(err, OSError)
                  else err.message.splitlines()[0].rsplit("; ", 1)[-1].split(" [Op:")[0])
        free = shutil.disk_usage(folder).free / 2 ** 20
        raise RRGANError(f"{folder}: cannot write a checkpoint ({reason}; {free:.1f} MiB free on the disk holding "
                         f"it); the last complete one, {manager.latest_checkpoint or 'none yet'}, is kept: free "
                         f"space there and run the same command to resume") from None
