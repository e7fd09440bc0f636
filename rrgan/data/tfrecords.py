"""Sharded TFRecords of encoded images: the writer (with a summary of what it skipped) and the parser.

Records keep the files' own encoded bytes (no re-encoding, so nothing is lost to a second JPEG
pass). Pair records and photo records go to separate shard series, named
``<prefix>-pairs-00000-of-00004.tfrecord`` and ``<prefix>-photos-...``, so a reader knows what
a folder holds without scanning it. Each shard is written under a temporary name and renamed
when complete: a crash never leaves a shard that looks finished but is not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import tensorflow as tf
from tqdm.auto import tqdm

from rrgan.data.images import load_encoded
from rrgan.data.pairs import ImagePair
from rrgan.errors import RRGANError
from rrgan.files import atomic_path

PAIR_KIND = "pairs"
PHOTO_KIND = "photos"
SHARD_SUFFIX = ".tfrecord"

FEATURES = {
    "input": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "target": tf.io.FixedLenFeature([], tf.string),
    "reflection": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "name": tf.io.FixedLenFeature([], tf.string),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
}


@dataclass
class ConversionSummary:
    """What a conversion wrote, and for each skipped file a message naming it and the reason."""

    written: int = 0
    skipped: list[str] = field(default_factory=list)
    shards: list[Path] = field(default_factory=list)


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def load_pair(pair: ImagePair) -> tuple[dict[str, bytes], tuple[int, int]]:
    """The encoded input, target and reflection (b"" when none) of a pair, checked to decode and to
    have one size; raises RRGANError naming the bad file."""
    (input_bytes, size), (target_bytes, target_size) = load_encoded(pair.input), load_encoded(pair.target)
    if size != target_size:
        raise RRGANError(f"{pair.input}: input is {size[1]}x{size[0]} but target {pair.target.name} "
                         f"is {target_size[1]}x{target_size[0]}")
    reflection_bytes = b""
    if pair.reflection is not None:
        reflection_bytes, reflection_size = load_encoded(pair.reflection)
        if reflection_size != size:
            raise RRGANError(f"{pair.reflection}: reflection size differs from its input")
    return {"input": input_bytes, "target": target_bytes, "reflection": reflection_bytes}, size


def encode_pair(pair: ImagePair) -> bytes:
    """A serialized tf.train.Example for a pair; raises RRGANError naming the bad file."""
    images, size = load_pair(pair)
    return _example(pair.name, size, **images)


def encode_photo(path: Path, name: str) -> bytes:
    """A serialized tf.train.Example for a clean photo (stored as the target)."""
    target_bytes, size = load_encoded(path)
    return _example(name, size, target=target_bytes)


def _example(name: str, size: tuple[int, int], **images: bytes) -> bytes:
    feature = {key: _bytes_feature(value) for key, value in images.items()}
    feature.update(name=_bytes_feature(name.encode()), height=_int_feature(size[0]), width=_int_feature(size[1]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def shard_paths(out_dir: Path, prefix: str, kind: str, count: int) -> list[Path]:
    return [out_dir / f"{prefix}-{kind}-{i:05d}-of-{count:05d}{SHARD_SUFFIX}" for i in range(count)]


def write_shards(items: Sequence, encode, out_dir: str | Path, prefix: str, kind: str,
                 shard_size: int = 256, progress: bool = True) -> ConversionSummary:
    """Encode ``items`` with ``encode(item) -> bytes`` into shards; bad items are skipped and reported."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = ConversionSummary()
    if not items:
        return summary
    count = -(-len(items) // shard_size)
    with tqdm(total=len(items), desc=f"{prefix}-{kind}", unit="img", disable=not progress) as bar:
        for index, final in enumerate(shard_paths(out_dir, prefix, kind, count)):
            written = 0
            with atomic_path(final) as temporary:
                with tf.io.TFRecordWriter(str(temporary)) as writer:
                    for item in items[index * shard_size:(index + 1) * shard_size]:
                        try:
                            writer.write(encode(item))
                            written += 1
                        except RRGANError as err:
                            summary.skipped.append(str(err))
                        bar.update(1)
                if not written:
                    temporary.unlink()  # no shard of nothing
            if written:
                summary.shards.append(final)
                summary.written += written
    return summary


def write_pairs(pairs: Sequence[ImagePair], out_dir, prefix: str, **kwargs) -> ConversionSummary:
    return write_shards(list(pairs), encode_pair, out_dir, prefix, PAIR_KIND, **kwargs)


def write_photos(photos: Sequence[Path], out_dir, prefix: str, **kwargs) -> ConversionSummary:
    root = Path(os.path.commonpath([str(p.parent) for p in photos])) if photos else Path(".")
    items = [(p, p.relative_to(root).with_suffix("").as_posix()) for p in photos]
    return write_shards(items, lambda item: encode_photo(*item), out_dir, prefix, PHOTO_KIND, **kwargs)


def parse_record(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """A serialized example to its encoded images, name and size (graph-safe)."""
    return tf.io.parse_single_example(serialized, FEATURES)


def shard_kind(path: str | Path) -> str | None:
    """``pairs`` or ``photos`` from a shard's file name, None for a file that is not one of ours."""
    name = Path(path).name
    if not name.endswith(SHARD_SUFFIX):
        return None
    for kind in (PAIR_KIND, PHOTO_KIND):
        if f"-{kind}-" in name:
            return kind
    return None
