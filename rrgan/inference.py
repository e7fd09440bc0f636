"""Remove reflections from photos of any size: load a model, run it in overlapping tiles, blend.

A photo larger than the working size (1 megapixel by default) goes through the model downscaled,
and the model's correction is upsampled and added at full size (``rrgan.working_size``). Large
photos are cut into tiles of ``tile`` pixels overlapping by ``overlap`` pixels; each tile's
output is weighted by a ramp that falls to zero at tile borders (not at image borders), so seams
are invisible and memory stays bounded by the tile size whatever the photo size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import tensorflow as tf

from rrgan import WORKING_PIXELS, checkpoints
from rrgan.config import Config
from rrgan.data.images import WRITABLE_SUFFIXES
from rrgan.errors import RRGANError
from rrgan.export import (
    LEVEL_SIGNATURE,
    OVERLAP,
    SERVING_SIGNATURE,
    TILE,
    UNLEVELLED_SIGNATURE,
    WEIGHT_FILES,
    ServingBundle,
    find_saved_model,
    reflection_of,
    refusal,
)
from rrgan.layers import dtype_policy
from rrgan.models import Networks, build_generator, build_networks
from rrgan.tiling import check_tiles, tile_grid, tile_weights
from rrgan.working_size import at_working_size, check_working_pixels, working_shape

PRETRAINED = Path(__file__).parent / "pretrained"

# (uint8 [1, H, W, 3]) -> dict of transmission / reflection (uint8), attention / edge (float32)
ModelFunction = Callable[[tf.Tensor], dict]
# (photo, transmission: uint8 [1, H, W, 3]) -> transmission, uint8 [1, H, W, 3]
WholePhotoStep = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class Remover:
    """A model in its two halves: ``tiles``, the networks on a photo or any tile of it, and
    ``whole_photo``, the Level-net's step on the whole photo and the transmission the tiles made
    (``rrgan.level``). Called on photos it is the model function of both, as serving_default is."""

    tiles: ModelFunction
    whole_photo: WholePhotoStep

    def __call__(self, images: tf.Tensor) -> dict:
        outputs = dict(self.tiles(images))
        transmission = self.whole_photo(images, outputs["transmission"])
        return {**outputs, "transmission": transmission, "reflection": reflection_of(images, transmission)}


def is_workdir(path: str | Path) -> bool:
    return (Path(path) / checkpoints.CHECKPOINTS).is_dir() and (Path(path) / "config.json").is_file()


def load_config(path: str | Path | None = None) -> Config:
    """The config of a work dir or weights folder; None means the shipped weights."""
    return Config.load((pretrained_folder() if path is None else Path(path)) / "config.json")


def load_workdir(workdir: str | Path) -> Networks:
    """Networks of a training work dir: its best checkpoint by validation (else the latest), with
    the EMA generator where the run kept one."""
    workdir = Path(workdir)
    config = load_config(workdir)
    path = checkpoints.best_or_latest(workdir)
    if path is None:
        raise RRGANError(f"{workdir}: no checkpoint in {workdir / checkpoints.CHECKPOINTS}")
    networks = build_networks(config.model)
    average = build_generator(config.model, name="generator_ema") if config.train.ema_decay else None
    checkpoints.restore_networks(path, networks, average)
    # The whole-photo nets are trained after the best generator was kept: the latest are their own.
    checkpoints.restore_whole_photo_nets(checkpoints.latest(workdir), networks)
    return networks if average is None else networks.with_generator(average)


def load_weights(folder: str | Path) -> Networks:
    """Networks from a weights folder written by ``rrgan.export.save_weights`` (the shipped form)."""
    folder = Path(folder)
    networks = build_networks(load_config(folder).model)
    for name in WEIGHT_FILES:
        if getattr(networks, name) is not None:
            getattr(networks, name).load_weights(str(folder / f"{name}.weights.h5"))
    return networks


def pretrained_folder() -> Path:
    """The weights shipped with the package, or an error that says how to get a model."""
    if not (PRETRAINED / "config.json").is_file():
        raise RRGANError("this rrgan install ships no pretrained weights: pass --model (a SavedModel, a TF Serving "
                         "model folder or a training work dir), or train one with rrgan-train")
    return PRETRAINED


def compute_precision(name: str = "auto") -> str:
    """The dtype policy to run networks under: "auto" is mixed_bfloat16 on a CPU with native bfloat16
    (AVX-512 BF16 or AMX; twice as fast there, outputs within 1 uint8 level of float32), else float32
    (elsewhere bfloat16 is emulated: 2.5x slower than float32 to train on an Ice Lake Xeon)."""
    if name != "auto":
        return name
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    native = ("avx512_bf16" in flags or "amx_bf16" in flags) and not tf.config.list_logical_devices("GPU")
    return "mixed_bfloat16" if native else "float32"


def load_networks(path: str | Path | None = None, precision: str = "float32") -> Networks:
    """Networks from a training work dir or a weights folder; None means the shipped weights.
    ``precision``: the dtype policy of their compute (weights stay float32), or "auto"."""
    path = pretrained_folder() if path is None else Path(path)
    with dtype_policy(compute_precision(precision)):
        if is_workdir(path):
            return load_workdir(path)
        if (path / "generator.weights.h5").is_file():
            return load_weights(path)
    raise RRGANError(f"{path}: not a training work dir (config.json + checkpoints/) or a weights folder")


def load_model(path: str | Path | None = None, precision: str = "auto") -> ModelFunction:
    """A SavedModel (or TF Serving model folder), a training work dir or a weights folder, as a
    uint8 -> dict function; None means the weights shipped with the package. ``precision`` applies
    to work dirs and weights folders (a SavedModel keeps the precision it was exported with)."""
    if path is not None and not Path(path).exists():
        raise RRGANError(f"{path}: no such model (give a SavedModel folder or a training work dir)")
    if path is None or (Path(path) / "config.json").is_file():
        bundle = ServingBundle(load_networks(path, precision))
        return Remover(bundle.serve_unlevelled,
                       lambda images, transmission: bundle.level(images, transmission)["transmission"])
    path = find_saved_model(path)
    signatures = tf.saved_model.load(str(path)).signatures

    def refused(function):
        def run(*args):
            try:
                return function(*args)
            except tf.errors.InvalidArgumentError as err:  # over the limits it was exported with
                raise RRGANError(f"{path}: {refusal(err)}") from None
        return run

    if UNLEVELLED_SIGNATURE not in signatures:  # exported before the Level-net
        return refused(lambda images: signatures[SERVING_SIGNATURE](images=images))
    return Remover(refused(lambda images: signatures[UNLEVELLED_SIGNATURE](images=images)),
                   refused(lambda images, transmission: signatures[LEVEL_SIGNATURE](
                       images=images, transmission=transmission)["transmission"]))


# The 8 symmetries of the square as (quarter turns, flipped left-right first), ordered so that a
# prefix is a useful subset: the flips first (no transposed tiles), then the quarter turns.
TTA_TRANSFORMS = ((0, False), (0, True), (2, True), (2, False), (1, False), (3, False), (1, True), (3, True))


def with_tta(model: ModelFunction, count: int = 8) -> ModelFunction:
    """Test-time augmentation: ``model`` run on the first ``count`` of ``TTA_TRANSFORMS`` of its
    input, each output turned back and averaged (uint8 outputs rounded again). A reflection's
    blur and a scene's edges do not depend on orientation; the network's errors partly do."""
    if not 1 <= count <= len(TTA_TRANSFORMS):
        raise RRGANError(f"--tta takes 1 to {len(TTA_TRANSFORMS)} transforms, got {count}")
    if isinstance(model, Remover):  # the whole-photo step sees the photo once, as it is
        return Remover(with_tta(model.tiles, count), model.whole_photo)
    transforms = TTA_TRANSFORMS[:count]

    def averaged(images: tf.Tensor) -> dict:
        totals, dtypes = {}, {}
        for turns, flipped in transforms:
            view = tf.image.flip_left_right(images) if flipped else images
            for key, value in model(tf.image.rot90(view, turns)).items():
                value = tf.image.rot90(value, -turns)
                value = tf.image.flip_left_right(value) if flipped else value
                totals[key] = totals.get(key, 0.0) + tf.cast(value, tf.float32)
                dtypes[key] = value.dtype
        means = {key: total / len(transforms) for key, total in totals.items()}
        return {key: tf.cast(tf.round(mean), tf.uint8) if dtypes[key] == tf.uint8 else mean
                for key, mean in means.items()}

    return averaged


def reflection_layer(image: np.ndarray, transmission: np.ndarray) -> np.ndarray:
    """What was taken out of the photo, I - T clipped to [0, 255]: the reflection as a photo of it would show it
    (OpenCV's saturating uint8 subtraction: no int16 copies of a 24 MP photo)."""
    return cv2.subtract(image, transmission)


def output_names(relative: Path, layers=("transmission",), file_format: str = "same") -> dict[str, Path]:
    """Where each layer of a photo is written, relative to the output folder: the clean photo under the
    photo's own name and format (PNG where rrgan cannot write that format, or ``file_format``), the
    others as ``<stem>_<layer>.png``, lossless since they are data rather than photos."""
    relative = Path(relative)
    if file_format != "same":
        clean = relative.with_suffix("." + file_format)
    elif relative.suffix.lower() in WRITABLE_SUFFIXES:
        clean = relative
    else:
        clean = relative.with_suffix(relative.suffix + ".png")
    return {layer: clean if layer == "transmission" else relative.with_name(f"{relative.stem}_{layer}.png")
            for layer in layers}


def _tiled(model: ModelFunction, image: np.ndarray, tile: int, overlap: int,
           progress: Callable[[int, int], None] | None) -> np.ndarray:
    """``model`` over uint8 [H, W, 3] in overlapping tiles: float32 [H, W, 4], the transmission and the
    map, blended, in [0, 1]."""
    height, width = image.shape[:2]
    total = np.zeros((height, width, 4), np.float32)
    weight_sum = np.zeros((height, width, 1), np.float32)
    (row_starts, tile_height), (column_starts, tile_width) = (
        tile_grid(height, tile, overlap), tile_grid(width, tile, overlap))
    tiles = [(top, left) for top in row_starts.numpy() for left in column_starts.numpy()]
    for done, (top, left) in enumerate(tiles, 1):
        bottom, right = top + tile_height.numpy(), left + tile_width.numpy()
        outputs = model(tf.constant(image[None, top:bottom, left:right]))
        weights = (tile_weights(bottom - top, overlap, top == 0, bottom == height).numpy()[:, None]
                   * tile_weights(right - left, overlap, left == 0, right == width).numpy()[None, :])[..., None]
        total[top:bottom, left:right] += weights * np.concatenate(
            [np.asarray(outputs["transmission"][0], np.float32) / 255.0, np.asarray(outputs["attention"][0])], axis=-1)
        weight_sum[top:bottom, left:right] += weights
        if progress is not None:
            progress(done, len(tiles))
    return total / weight_sum


def remove_reflections(model: ModelFunction, image: np.ndarray, tile: int = TILE, overlap: int = OVERLAP,
                       progress: Callable[[int, int], None] | None = None,
                       working_pixels: int = WORKING_PIXELS) -> dict:
    """uint8 [H, W, 3] photo -> ``transmission`` uint8 [H, W, 3], ``reflection`` (``reflection_layer``)
    and ``map``, the final attention map as uint8 [H, W] (where the model found reflections).

    A photo larger than ``working_pixels`` goes through the model downscaled to that size, and the
    model's correction and map are upsampled and applied at full size (``rrgan.working_size``);
    ``working_pixels=0`` runs the model at full size. Either way the model runs in overlapping tiles
    when larger than ``tile`` (the tiles and weights of ``rrgan.tiling``; a SavedModel of rrgan also
    tiles inside, so this path serves any model function and any tile size). A ``Remover``'s whole-photo
    step then runs once on the full-size photo. ``progress(done, total)`` is called after each tile, for a
    progress bar on large photos."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise RRGANError(f"expected an RGB image [H, W, 3], got shape {image.shape}")
    check_tiles(tile, overlap)
    check_working_pixels(working_pixels)
    tiles = model.tiles if isinstance(model, Remover) else model
    size = working_shape(*image.shape[:2], working_pixels)
    if tuple(size.numpy()) == image.shape[:2]:
        blended = _tiled(tiles, image, tile, overlap, progress)
        transmission, attention = _to_uint8(blended[..., :3]), blended[..., 3]
    else:
        def run(small):
            return tf.constant(_tiled(tiles, small[0].numpy(), tile, overlap, progress)[None])

        transmission, attention = (x[0].numpy() for x in at_working_size(run, tf.constant(image[None]), size))
        attention = attention[..., 0]
    if isinstance(model, Remover):
        transmission = np.asarray(model.whole_photo(tf.constant(image[None]), tf.constant(transmission[None]))[0])
    return {"transmission": np.ascontiguousarray(transmission), "reflection": reflection_layer(image, transmission),
            "map": _to_uint8(attention)}


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to uint8, rounded and clipped in one pass with no float copies (OpenCV)."""
    return cv2.convertScaleAbs(values, alpha=255.0)
