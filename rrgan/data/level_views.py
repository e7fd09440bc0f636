"""Whole-photo views for the level stage: what the Level-net learns from is a photo's overall level,
so each view is most of a photo (a square of 0.6 to 1 of its short side), at the thumbnail size.

Three streams, mixed by fixed counts per batch (``data.level_real_fraction``,
``data.level_clean_fraction``): real pairs (each pair set alike with ``data.balance_pair_sets``);
clean photos as their own target (a photo without glass comes back as it went in); and clean photos
under a synthetic veil, another photo averaged down to 2 to 128 cells and added with a tinted gain
(``data.level_veil_strength``), the smooth layer of light that glass lays over a scene. Photos and
pairs are read once, shrunk to twice the thumbnail and cached; the random work after the cache is
stateless, keyed by (seed, index).
"""

from __future__ import annotations

import tensorflow as tf

from rrgan.config import DataConfig
from rrgan.data.images import decode_rgb
from rrgan.data.pipeline import AUTOTUNE, Sources, decode_pair, pair_groups, pair_records, photo_records, usable_pair
from rrgan.errors import RRGANError

VEIL_CELLS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)  # cells on a side of a veil, at a thumbnail of 128
VEIL_TINT = 0.2  # each channel's gain of a veil varies by this much either way


def _shrunk(image: tf.Tensor, short_side: int) -> tf.Tensor:
    """uint8 [H, W, C] scaled (area) to ``short_side`` on its short side, unless already smaller."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.minimum(1.0, short_side / tf.reduce_min(shape))
    size = tf.cast(tf.round(shape * scale), tf.int32)
    return tf.cast(tf.round(tf.image.resize(image, size, "area")), tf.uint8)


def whole_view(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """A random square of 0.6 to 1 of the short side of ``image`` (uint8 [H, W, C]), anywhere in it,
    flipped half the time, resized to ``size``; float32 in [0, 1]."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    side = tf.random.stateless_uniform([], seeds[0], 0.6, 1.0) * tf.reduce_min(shape)
    corner = tf.random.stateless_uniform([2], seeds[1]) * (shape - side)
    box = tf.concat([corner, corner + side], 0) / tf.concat([shape, shape], 0)
    flip = tf.random.stateless_uniform([], seeds[2]) < 0.5
    box = tf.where(flip, tf.gather(box, [0, 3, 2, 1]), box)
    view = tf.image.crop_and_resize(tf.cast(image, tf.float32)[None] / 255.0, box[None], [0], [size, size])
    return tf.clip_by_value(view[0], 0.0, 1.0)


def veiled(transmission: tf.Tensor, reflection: tf.Tensor, config: DataConfig, seed: tf.Tensor) -> tf.Tensor:
    """Each of ``transmission`` under its ``reflection`` averaged to a random number of cells (one
    for the batch) and added with a random, tinted gain; both float32 [B, S, S, 3] in [0, 1]."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    count, size = tf.shape(transmission)[0], transmission.shape[1]
    choices = tf.constant([max(1, round(c * size / 128)) for c in VEIL_CELLS])
    cells = choices[tf.random.stateless_uniform([], seeds[0], 0, len(VEIL_CELLS), tf.int32)]
    veil = tf.image.resize(tf.image.resize(reflection, tf.stack([cells, cells]), "area"), [size, size])
    low, high = config.level_veil_strength
    gain = (tf.random.stateless_uniform(tf.stack([count, 1, 1, 1]), seeds[1], low, high)
            * tf.random.stateless_uniform(tf.stack([count, 1, 1, 3]), seeds[2], 1.0 - VEIL_TINT, 1.0 + VEIL_TINT))
    return tf.clip_by_value(transmission + veil * gain, 0.0, 1.0)


def _stream_seed(seed: int, stream: int, index: tf.Tensor) -> tf.Tensor:
    return tf.stack([tf.constant(seed * 8 + stream, tf.int64), index])


def _cached(records: tf.data.Dataset, shrink, config: DataConfig, seed: int) -> tf.data.Dataset:
    records = records.map(shrink, num_parallel_calls=AUTOTUNE)
    if config.cache:
        records = records.cache()
    return records.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()


def level_dataset(sources: Sources, config: DataConfig, batch_size: int, size: int,
                  seed: int = 0) -> tf.data.Dataset:
    """Endless batches of ``input`` and ``target``, float32 [B, size, size, 3] in [0, 1]: real pairs,
    clean photos and veiled photos in the shares of ``config``, in that order in every batch."""
    stored = 2 * size
    real = round(batch_size * config.level_real_fraction) if sources.has_pairs else 0
    clean = round(batch_size * config.level_clean_fraction)
    veiled_count = batch_size - real - clean
    streams = []
    if real:
        def shrink_pair(record):
            pair = decode_pair(record)
            return _shrunk(tf.concat([pair["input"], pair["target"]], -1), stored)

        def real_view(index, stack):
            view = whole_view(stack, size, _stream_seed(seed, 0, index))
            return {"input": view[..., :3], "target": view[..., 3:]}

        groups = pair_groups(sources) if config.balance_pair_sets else [sources]
        stacks = [_cached(pair_records(group, seed, config.pair_holdout).filter(
            lambda record: usable_pair(record, config)), shrink_pair, config, seed) for group in groups]
        stacks = stacks[0] if len(stacks) == 1 else tf.data.Dataset.sample_from_datasets(stacks, seed=seed)
        streams.append(stacks.enumerate().map(real_view, num_parallel_calls=AUTOTUNE).batch(real, drop_remainder=True))
    if clean or veiled_count:
        # One stream of photo views: the first ``clean`` of each batch are their own targets, the
        # others come two by two, a transmission and the reflection veiled over it.
        photos = photo_records(sources, seed, holdout=config.photo_holdout, pair_holdout=config.pair_holdout)
        if photos is None:
            raise RRGANError("the level stage needs photos or pairs to train on")
        views = _cached(photos, lambda record: _shrunk(decode_rgb(record["target"]), stored), config, seed + 1)
        views = views.enumerate().map(lambda index, photo: whole_view(photo, size, _stream_seed(seed, 1, index)),
                                      num_parallel_calls=AUTOTUNE)

        def photo_batch(index, views):
            transmission = views[clean:clean + veiled_count]
            reflection = views[clean + veiled_count:]
            return {"input": tf.concat([views[:clean], veiled(transmission, reflection, config,
                                                               _stream_seed(seed, 2, index))], 0),
                    "target": views[:clean + veiled_count]}

        streams.append(views.batch(clean + 2 * veiled_count, drop_remainder=True).enumerate().map(photo_batch))
    batches = tf.data.Dataset.zip(tuple(streams)).map(
        lambda *parts: {key: tf.concat([part[key] for part in parts], 0)
                        for key in ("input", "target")})
    return batches.prefetch(AUTOTUNE)
