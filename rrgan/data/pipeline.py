"""tf.data pipelines: photos and pairs on disk (folders or TFRecord shards) to training batches.

Training:  shards -> interleave -> parse -> [cache encoded] -> shuffle -> repeat
           -> paired random crop / rescale / flip (and synthesis for photo pairs)
           -> sample_from_datasets(real, synthetic) -> batch -> prefetch
Evaluation: whole pairs at full size, in sorted order, one at a time.

Random work happens after the cache and uses stateless ops keyed by (seed, element index), so a
seed fixes every batch. Input, target and reflection are stacked on the channel axis before any
geometric op, so they can never drift apart.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import tensorflow as tf

from rrgan.config import DataConfig
from rrgan.data.images import decode_rgb, load_encoded
from rrgan.data.pairs import ImagePair, PairSet, find_pair_sets, find_photos
from rrgan.data.synthesis import synthesize
from rrgan.data.tfrecords import PAIR_KIND, SHARD_SUFFIX, load_pair, parse_record, shard_kind
from rrgan.errors import RRGANError

AUTOTUNE = tf.data.AUTOTUNE
log = logging.getLogger("rrgan")

_RECORD_KEYS = ("input", "target", "reflection", "name")


@dataclass
class Sources:
    """Everything the user pointed at, sorted into pair sets, loose photos and TFRecord shards."""

    pair_sets: list[PairSet] = field(default_factory=list)
    photos: list[Path] = field(default_factory=list)
    pair_shards: list[str] = field(default_factory=list)
    photo_shards: list[str] = field(default_factory=list)

    @property
    def has_pairs(self) -> bool:
        return bool(self.pair_sets or self.pair_shards)


def is_glob(path: str | Path) -> bool:
    """True for a shard pattern such as ``records/*-pairs-*.tfrecord``."""
    return any(ch in str(path) for ch in "*?[")


def _add_shards(sources: Sources, files: Iterable[str | Path]) -> None:
    for file in sorted(str(f) for f in files):
        kind = shard_kind(file)
        if kind is None:
            raise RRGANError(f"{file}: not an rrgan shard (expected <prefix>-pairs-* or <prefix>-photos-*"
                             f"{SHARD_SUFFIX}, as written by rrgan-data convert)")
        (sources.pair_shards if kind == PAIR_KIND else sources.photo_shards).append(file)


def _shards(path: Path) -> list[str] | None:
    """The shard files a path names (a shard, a glob, a folder of shards), or None if it names none."""
    if is_glob(path):
        matches = glob.glob(str(path))
        if not matches:
            raise RRGANError(f"{path}: no file matches")
        return matches
    if path.is_file() and path.name.endswith(SHARD_SUFFIX):
        return [str(path)]
    if path.is_dir() and any(path.glob(f"*{SHARD_SUFFIX}")):
        return [str(p) for p in path.glob(f"*{SHARD_SUFFIX}")]
    return None


def collect_sources(pairs: Iterable[str | Path] = (), photos: Iterable[str | Path] = ()) -> Sources:
    """Image pairs and clean photos, each given explicitly: ``pairs`` are folders of pair sets in a
    layout rrgan knows (anything else is an error that lists what the folder holds and the layouts
    accepted: photos with reflections must never become targets by a guess), ``photos`` are files
    or folders of clean photos for synthesis. TFRecord shards (files, globs or folders of them)
    may stand in either list: their names say which kind they hold."""
    sources = Sources()
    for path in map(Path, pairs):
        shards = _shards(path)
        if shards is not None:
            _add_shards(sources, shards)
        elif path.is_dir():
            for pair_set in find_pair_sets(path):
                if pair_set.unmatched:
                    names = ", ".join(p.name for p in pair_set.unmatched[:5])
                    log.warning("%s: %d file(s) without a partner skipped: %s%s", pair_set.root,
                                len(pair_set.unmatched), names, " ..." if len(pair_set.unmatched) > 5 else "")
                sources.pair_sets.append(pair_set)
        elif path.exists():
            raise RRGANError(f"{path}: a file, not a folder of image pairs (clean photos go with --photos)")
        else:
            raise RRGANError(f"{path}: no such file or folder")
    for path in map(Path, photos):
        shards = _shards(path)
        if shards is not None:
            _add_shards(sources, shards)
        else:
            sources.photos.extend(find_photos(path))
    return sources


_reported: set[str] = set()
_reported_lock = threading.Lock()


def _skip(key: str, err: RRGANError) -> None:
    """Name a file (or pair, by ``key``) that cannot be read the first time only: an uncached
    pipeline reads it again every epoch, and a photo that breaks mid-run must not flood the log of
    a run that goes on without it."""
    with _reported_lock:
        if key in _reported:
            return
        _reported.add(key)
    log.warning("skipped: %s", err)


def _loaded_pair(input_path, target_path, reflection_path, name):
    """Python side of the folder pipeline: the one reader, with a bad pair named once and left out."""
    pair = ImagePair(name.decode(), Path(input_path.decode()), Path(target_path.decode()),
                     Path(reflection_path.decode()) if reflection_path else None)
    try:
        images, _ = load_pair(pair)
    except RRGANError as err:
        _skip(str(pair.input), err)
        return b"", b"", b""
    return images["input"], images["target"], images["reflection"]


def _loaded_photo(path):
    try:
        return load_encoded(path.decode())[0]
    except RRGANError as err:
        _skip(path.decode(), err)
        return b""


def _read_pair_files(paths: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    images = tf.numpy_function(_loaded_pair, [paths["input"], paths["target"], paths["reflection"], paths["name"]],
                               [tf.string] * 3, stateful=False)
    return {"input": tf.ensure_shape(images[0], []), "target": tf.ensure_shape(images[1], []),
            "reflection": tf.ensure_shape(images[2], []), "name": paths["name"]}


def _read_photo_file(path: tf.Tensor, name: tf.Tensor) -> dict[str, tf.Tensor]:
    target = tf.ensure_shape(tf.numpy_function(_loaded_photo, [path], tf.string, stateful=False), [])
    return {"input": tf.constant(""), "target": target, "reflection": tf.constant(""), "name": name}


def _readable(record: dict[str, tf.Tensor]) -> tf.Tensor:
    return tf.strings.length(record["target"]) > 0


def _shard_records(shards: list[str], shuffle_seed: int | None) -> tf.data.Dataset:
    files = tf.data.Dataset.from_tensor_slices(shards)
    if shuffle_seed is not None:
        files = files.shuffle(len(shards), seed=shuffle_seed)
    # Unshuffled (evaluation) reads shards one after another, so records keep their sorted order.
    cycle_length = min(len(shards), 8) if shuffle_seed is not None else 1
    records = files.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length, num_parallel_calls=AUTOTUNE)
    return records.map(lambda s: {k: v for k, v in parse_record(s).items() if k in _RECORD_KEYS},
                       num_parallel_calls=AUTOTUNE)


def _concatenate(datasets: list[tf.data.Dataset]) -> tf.data.Dataset | None:
    if not datasets:
        return None
    combined = datasets[0]
    for dataset in datasets[1:]:
        combined = combined.concatenate(dataset)
    return combined


def pair_records(sources: Sources, shuffle_seed: int | None = None, holdout: float = 0.0) -> tf.data.Dataset | None:
    """Encoded pair records (input, target, reflection bytes and name) from folders and shards;
    with ``holdout`` > 0, without the pairs held out of training (``held_out_pair``)."""
    parts = []
    pairs = [p for s in sources.pair_sets for p in s.pairs]
    if pairs:
        parts.append(tf.data.Dataset.from_tensor_slices({
            "input": [str(p.input) for p in pairs], "target": [str(p.target) for p in pairs],
            "reflection": [str(p.reflection or "") for p in pairs], "name": [p.name for p in pairs],
        }).map(_read_pair_files, num_parallel_calls=AUTOTUNE).filter(_readable))
    if sources.pair_shards:
        parts.append(_shard_records(sources.pair_shards, shuffle_seed))
    records = _concatenate(parts)
    if records is not None and holdout > 0.0:
        records = records.filter(lambda record: tf.logical_not(held_out_pair(record["name"], holdout)))
    return records


PHOTO_SPLIT_KEY = 1680  # the hash key of the photo hold-out split: changing it changes the split
PAIR_SPLIT_KEY = 89  # the same for pairs (data.pair_holdout)


def held_out(name: tf.Tensor, fraction: float, key: int = PHOTO_SPLIT_KEY) -> tf.Tensor:
    """True for the names in a fixed hold-out split (``key`` picks it: photos or pairs): a keyed hash
    of the name (a file's stem), so the split does not depend on the order, the folder or the format
    images come in."""
    bucket = tf.strings.to_hash_bucket_strong(name, 10_000, key=[key, 0])
    return bucket < round(fraction * 10_000)


def held_out_pair(name: tf.Tensor, fraction: float) -> tf.Tensor:
    """True for the pairs of the fixed hold-out split of ``data.pair_holdout`` (by the pair's name)."""
    return held_out(name, fraction, PAIR_SPLIT_KEY)


def held_out_pairs(pair_set: PairSet, fraction: float) -> PairSet:
    """The pairs of ``pair_set`` that training with ``data.pair_holdout=fraction`` never sees."""
    if not pair_set.pairs:
        return pair_set
    keep = held_out_pair(tf.constant([pair.name for pair in pair_set.pairs]), fraction).numpy()
    return dataclasses.replace(pair_set, pairs=tuple(p for p, kept in zip(pair_set.pairs, keep) if kept))


def photo_records(sources: Sources, shuffle_seed: int | None = None, holdout: float = 0.0,
                  split: str = "train", pair_holdout: float = 0.0) -> tf.data.Dataset | None:
    """Encoded clean photos for synthesis: loose photos, photo shards, and (for training) the
    targets of every pair not held out (``pair_holdout``). With ``holdout`` > 0 the photos of the
    ``split`` ("train" or "holdout", ``held_out``) are kept."""
    if split not in ("train", "holdout"):
        raise ValueError(f"split must be 'train' or 'holdout', got {split!r}")
    parts = []
    if sources.photos:
        parts.append(tf.data.Dataset.from_tensor_slices(
            ([str(p) for p in sources.photos], [p.stem for p in sources.photos])
        ).map(_read_photo_file, num_parallel_calls=AUTOTUNE).filter(_readable))
    if sources.photo_shards:
        parts.append(_shard_records(sources.photo_shards, shuffle_seed))
    if holdout > 0.0 and parts:
        keep = split == "holdout"
        parts = [part.filter(lambda record: tf.equal(held_out(record["name"], holdout), keep)) for part in parts]
    if split == "holdout":
        return _concatenate(parts)
    pairs = pair_records(sources, shuffle_seed, pair_holdout)
    if pairs is not None:
        parts.append(pairs.map(lambda r: {**r, "input": tf.constant(""), "reflection": tf.constant("")}))
    return _concatenate(parts)


def decode_pair(record: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Encoded pair record to uint8 images; a missing reflection becomes zeros with has_reflection False."""
    image = decode_rgb(record["input"])
    target = decode_rgb(record["target"])
    has_reflection = tf.strings.length(record["reflection"]) > 0
    reflection = tf.cond(has_reflection, lambda: decode_rgb(record["reflection"]), lambda: tf.zeros_like(target))
    same_size = tf.reduce_all(tf.equal(tf.shape(image), tf.shape(target))) & tf.reduce_all(
        tf.equal(tf.shape(reflection), tf.shape(target)))
    with tf.control_dependencies([tf.debugging.Assert(same_size, ["input, target and reflection sizes differ for",
                                                                  record["name"]])]):
        image = tf.identity(image)
    return {"input": image, "target": target, "reflection": reflection, "has_reflection": has_reflection,
            "name": record["name"]}


def random_window(image: tf.Tensor, config: DataConfig, seed: tf.Tensor) -> tf.Tensor:
    """A random square of side ``crop_size / scale`` (``config.scale_range``), resized to ``crop_size``,
    maybe flipped; with ``config.view_short_side``, the window is first widened as if the image had
    been shrunk to a random short side in that range (never enlarged).

    ``image`` is uint8 [H, W, C] (C may stack several aligned images). Images whose short side is
    below the window are resized up first: small images are used, never dropped. Returns float32 in [0, 1].
    """
    crop_size = config.crop_size
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    scale = tf.random.stateless_uniform([], seeds[0], config.scale_range[0], config.scale_range[1])
    shape = tf.shape(image)
    short_side = tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)
    zoom_out = 1.0
    if config.view_short_side[1] > 0:
        view = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seed, 3),
                                           float(config.view_short_side[0]), float(config.view_short_side[1]))
        zoom_out = short_side / tf.minimum(view, short_side)
    window = tf.cast(tf.round(crop_size * zoom_out / scale), tf.int32)
    factor = tf.maximum(1.0, tf.cast(window, tf.float32) / short_side)

    def enlarge():
        size = tf.cast(tf.math.ceil(tf.cast(shape[:2], tf.float32) * factor), tf.int32)
        resized = tf.image.resize(tf.cast(image, tf.float32), tf.maximum(size, window))
        return tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)

    image = tf.cond(factor > 1.0, enlarge, lambda: image)
    patch = tf.image.stateless_random_crop(image, tf.stack([window, window, shape[2]]), seed=seeds[1])
    patch = tf.image.resize(tf.cast(patch, tf.float32) / 255.0, [crop_size, crop_size], antialias=True)
    if config.flip:
        patch = tf.image.stateless_random_flip_left_right(patch, seed=seeds[2])
    return tf.clip_by_value(patch, 0.0, 1.0)


def _element_seed(seed: int, stream: int, index: tf.Tensor) -> tf.Tensor:
    return tf.stack([tf.constant(seed * 4 + stream, tf.int64), index])


def _real_crops(records: tf.data.Dataset, config: DataConfig, seed: int, set_index: int = 0) -> tf.data.Dataset:
    def crop(index, record):
        pair = decode_pair(record)
        stack = tf.concat([pair["input"], pair["target"], pair["reflection"]], axis=-1)
        element_seed = _element_seed(seed, 0, index)
        if set_index:  # each balanced set draws its own windows
            element_seed = tf.random.experimental.stateless_fold_in(element_seed, set_index)
        patch = random_window(stack, config, element_seed)
        return {"input": patch[..., 0:3], "target": patch[..., 3:6], "reflection": patch[..., 6:9],
                "has_reflection": pair["has_reflection"]}

    return records.enumerate().map(crop, num_parallel_calls=AUTOTUNE)


def _synthetic_crops(records: tf.data.Dataset, config: DataConfig, seed: int) -> tf.data.Dataset:
    return _blend(records.batch(2, drop_remainder=True), config, seed)


def _blend(record_pairs: tf.data.Dataset, config: DataConfig, seed: int) -> tf.data.Dataset:
    """Synthetic pairs from records stacked two by two: the first photo is T, the second R."""
    reflection_windows = config if config.reflection_view_short_side == (0, 0) else dataclasses.replace(
        config, view_short_side=config.reflection_view_short_side)

    def blend(index, two_records):
        seeds = tf.random.experimental.stateless_split(_element_seed(seed, 1, index), num=3)
        transmission = random_window(decode_rgb(two_records["target"][0]), config, seeds[0])
        reflection = random_window(decode_rgb(two_records["target"][1]), reflection_windows, seeds[1])
        image, transmission, reflection = synthesize(transmission, reflection, seeds[2], config.synthesis)
        if config.clean_fraction > 0.0:
            clean = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seeds[2], 7)) < (
                config.clean_fraction)
            image = tf.where(clean, transmission, image)
            reflection = tf.where(clean, tf.zeros_like(reflection), reflection)
        return {"input": image, "target": transmission, "reflection": reflection,
                "has_reflection": tf.constant(True)}

    return record_pairs.enumerate().map(blend, num_parallel_calls=AUTOTUNE)


def _holdout_photos(photos: Iterable[str | Path], config: DataConfig) -> tf.data.Dataset:
    if config.photo_holdout <= 0.0:
        raise RRGANError("data.photo_holdout is 0: no photos are held out of training")
    records = photo_records(collect_sources(photos=photos), holdout=config.photo_holdout, split="holdout")
    if records is None:
        raise RRGANError("no photos given")
    return records


def holdout_pairs(photos: Iterable[str | Path], config: DataConfig, seed: int = 0) -> tf.data.Dataset:
    """Synthetic pairs from the held-out photos only (``config.photo_holdout``), one per photo in
    sorted order, each blended with the next photo's reflection: a test set of the training
    distribution that no training run saw. ``name``, ``input``, ``target`` as float32 [S, S, 3]."""
    records = _holdout_photos(photos, config).cache()
    following = records.skip(1).concatenate(records.take(1))
    stacked = tf.data.Dataset.zip(records, following).map(
        lambda first, second: {"target": tf.stack([first["target"], second["target"]]), "name": first["name"]})
    names = stacked.map(lambda record: record["name"])
    return tf.data.Dataset.zip(names, _blend(stacked, config, seed)).map(
        lambda name, pair: {"name": name, "input": pair["input"], "target": pair["target"]})


def holdout_crops(photos: Iterable[str | Path], config: DataConfig, seed: int = 0) -> tf.data.Dataset:
    """Endless synthetic crops of the held-out photos (``config.photo_holdout``), windowed and
    blended as training makes its synthetic crops: the generator's own training distribution, on
    photos no training run saw. Unbatched dicts as ``training_dataset``'s."""
    return _synthetic_crops(_prepare(_holdout_photos(photos, config), config, seed + 1), config, seed)


def global_shift(image: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Length in pixels of the global translation between two uint8 images (phase correlation, to
    the nearest pixel)."""
    def gray_spectrum(x):
        gray = tf.reduce_mean(tf.cast(x, tf.float32), axis=-1)
        return tf.signal.fft2d(tf.cast(gray - tf.reduce_mean(gray), tf.complex64))

    cross = gray_spectrum(image) * tf.math.conj(gray_spectrum(target))
    correlation = tf.math.real(tf.signal.ifft2d(cross / tf.cast(tf.abs(cross) + 1e-9, tf.complex64)))
    size = tf.shape(correlation)
    peak = tf.argmax(tf.reshape(correlation, [-1]), output_type=tf.int32)
    offset = tf.stack([peak // size[1], peak % size[1]])
    offset = tf.where(offset > size // 2, offset - size, offset)  # the FFT wraps negative shifts around
    return tf.norm(tf.cast(offset, tf.float32))


def brightness_ratio(image: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean brightness of the target over that of the input."""
    return tf.reduce_mean(tf.cast(target, tf.float32)) / tf.maximum(tf.reduce_mean(tf.cast(image, tf.float32)), 1e-3)


def pair_measures(pair: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """What the real-pair filters look at: the target's global shift (pixels) and its brightness
    over the input's."""
    return {"shift": global_shift(pair["input"], pair["target"]),
            "brightness_ratio": brightness_ratio(pair["input"], pair["target"])}


def pair_rejections(measures: dict[str, tf.Tensor], config: DataConfig) -> dict[str, tf.Tensor]:
    """Why a real pair would teach the wrong thing, one flag per filter: a target shifted by more
    than ``pair_max_shift`` pixels (blur), a brightness ratio outside ``pair_brightness_ratio``."""
    low, high = config.pair_brightness_ratio
    ratio = measures["brightness_ratio"]
    return {"shift": measures["shift"] > config.pair_max_shift,
            "brightness_ratio": (ratio < low) | (ratio > high)}


def usable_pair(record: dict[str, tf.Tensor], config: DataConfig) -> tf.Tensor:
    """False for a real pair that a filter of ``pair_rejections`` leaves out of training."""
    rejected = pair_rejections(pair_measures(decode_pair(record)), config)
    return tf.logical_not(tf.reduce_any(tf.stack(list(rejected.values()))))


@dataclass(frozen=True)
class PairCheck:
    """One real pair as training sees it: its measures, whether the hold-out keeps it for
    validation, and the filters (``pair_rejections``) that leave it out."""

    pair_set: str
    name: str
    shift: float
    brightness_ratio: float
    held_out: bool
    left_out_by: tuple[str, ...]

    @property
    def left_out(self) -> bool:
        """Neither trained on nor validated on: a filter drops it and the hold-out does not keep it."""
        return bool(self.left_out_by) and not self.held_out


def check_pairs(paths: Iterable[str | Path], config: DataConfig) -> Iterable[tuple[PairCheck, dict]]:
    """Each real pair of ``paths`` with its ``PairCheck`` and the decoded pair (uint8 input, target):
    what ``training_dataset`` trains on, leaves out or holds out, and why."""
    sources = collect_sources(paths)
    for group in pair_groups(sources):
        label = group.pair_sets[0].root.name if group.pair_sets else "TFRecord shards"
        for record in pair_records(group):
            pair = decode_pair(record)
            measures = pair_measures(pair)
            rejected = pair_rejections(measures, config)
            held = config.pair_holdout > 0.0 and bool(held_out_pair(record["name"], config.pair_holdout))
            check = PairCheck(label, record["name"].numpy().decode(), float(measures["shift"]),
                              float(measures["brightness_ratio"]), held,
                              tuple(reason for reason, flag in rejected.items() if bool(flag)))
            yield check, pair


def _prepare(records: tf.data.Dataset, config: DataConfig, seed: int) -> tf.data.Dataset:
    if config.cache:
        records = records.cache()
    return records.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()


def pair_groups(sources: Sources) -> list[Sources]:
    """The pair sources one by one, for balanced sampling: each pair set, then all shards as one."""
    groups = [Sources(pair_sets=[pair_set]) for pair_set in sources.pair_sets if pair_set.pairs]
    return groups + ([Sources(pair_shards=sources.pair_shards)] if sources.pair_shards else [])


def training_dataset(pairs, config: DataConfig, batch_size: int, seed: int = 0,
                     photos: Iterable[str | Path] = ()) -> tf.data.Dataset:
    """Endless batches of dicts: ``input``, ``target``, ``reflection`` float32 [B, crop, crop, 3] in [0, 1]
    and ``has_reflection`` [B]. A ``config.real_fraction`` share are real pairs (each pair set an
    equal part of it with ``config.balance_pair_sets``), the rest synthesized from ``photos`` and
    the pairs' targets. ``pairs`` may be a ``Sources`` (then ``photos`` is unused)."""
    sources = pairs if isinstance(pairs, Sources) else collect_sources(pairs, photos)
    real_fraction = config.real_fraction if sources.has_pairs else 0.0
    branches, weights = [], []
    if real_fraction > 0.0:
        groups = pair_groups(sources) if config.balance_pair_sets else [sources]
        for set_index, group in enumerate(groups):
            pairs = pair_records(group, seed, config.pair_holdout).filter(lambda record: usable_pair(record, config))
            branches.append(_real_crops(_prepare(pairs, config, seed), config, seed, set_index))
            weights.append(real_fraction / len(groups))
    if real_fraction < 1.0:
        photos = photo_records(sources, seed, holdout=config.photo_holdout, pair_holdout=config.pair_holdout)
        if photos is None:
            raise RRGANError("no photos or pairs to train on")
        branches.append(_synthetic_crops(_prepare(photos, config, seed + 1), config, seed))
        weights.append(1.0 - real_fraction)
    mixed = branches[0] if len(branches) == 1 else tf.data.Dataset.sample_from_datasets(
        branches, weights=weights, seed=seed)
    return mixed.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def evaluation_dataset(paths_or_sources) -> tf.data.Dataset:
    """Whole pairs at full size in sorted order, batch of one: ``name``, ``input``, ``target`` (float32)."""
    sources = paths_or_sources if isinstance(paths_or_sources, Sources) else collect_sources(paths_or_sources)
    records = pair_records(sources)
    if records is None:
        raise RRGANError("evaluation needs image pairs (input and target); only photos were given")

    def to_float(record):
        pair = decode_pair(record)
        return {"name": pair["name"], "input": tf.image.convert_image_dtype(pair["input"], tf.float32),
                "target": tf.image.convert_image_dtype(pair["target"], tf.float32)}

    return records.map(to_float, num_parallel_calls=AUTOTUNE).batch(1).prefetch(AUTOTUNE)


def held_out_sources(paths: Iterable[str | Path], pair_holdout: float) -> Sources:
    """The sources of ``paths``; with ``pair_holdout`` > 0, each pair set's held-out pairs only (the
    pairs a run with ``data.pair_holdout`` of that value never trained on)."""
    sources = collect_sources(paths)
    if pair_holdout > 0.0:
        sources.pair_sets = [held_out_pairs(pair_set, pair_holdout) for pair_set in sources.pair_sets]
    return sources


def evaluation_subset(path: str | Path, count: int, pair_holdout: float = 0.0) -> tf.data.Dataset:
    """At most ``count`` pairs of one set, spread evenly over its sorted order (a set's first pairs
    are often one scene); with ``pair_holdout`` > 0, of its held-out pairs only."""
    sources = held_out_sources([path], pair_holdout)
    total = sum(len(s) for s in sources.pair_sets)
    stride = max(1, total // count) if total else 1
    dataset = evaluation_dataset(sources).enumerate().filter(lambda index, _: index % stride == 0)
    return dataset.map(lambda _, example: example).take(count)
