"""Export the generator bundle (Attention-net, Edge-net, generator; Level-net and Presence-net where
there are) as ONE SavedModel for TF Serving.

Layout: ``<export_root>/<model_name>/<version>/`` with an integer version (the next free one by
default), written under a temporary name and renamed, so TF Serving never sees half a version.

Signatures:
    serving_default(images: uint8 [N, H, W, 3]) -> transmission (uint8), reflection (uint8, I - T clipped),
        attention (float32 [N, H, W, 1], the reflection map), edge (float32 [N, H, W, 1]); any H and W.
    remove_encoded(images: string [N]) -> transmission_png (string [N]): JPEG / PNG / BMP / GIF
        bytes in (as TF Serving's REST API receives base64), PNG bytes out.
    limits() -> max_pixels, max_batch (int64 scalars): the export's ``ServingLimits``.
    remove_unlevelled(images) -> serving_default's outputs before the whole-photo step (``rrgan.level``:
        the Level-net and Presence-net), and
    level(images, transmission: uint8 [N, H, W, 3]) -> transmission after it (as it was without
        those nets): the two halves of serving_default, for a caller that runs the first
        in tiles of its own (``rrgan.inference.remove_reflections``) and the second once on the photo.
Both run a photo larger than ``tile`` pixels in overlapping tiles inside the graph (``rrgan.tiling``),
so a phone photo posted to TF Serving takes the memory of one tile, not of the whole photo. An export
with a working size (``rrgan-export --working-megapixels``; none by default, as before) runs the
model on larger photos downscaled to it and applies its correction at full size (``rrgan.working_size``). Both
refuse a request over the limits with InvalidArgumentError (TF Serving's 400), ``remove_encoded``
by every image's header before it decodes any (``rrgan.headers``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from rrgan.config import Config
from rrgan.data.images import DEFAULT_MAX_PIXELS
from rrgan.errors import RRGANError
from rrgan.files import atomic_path
from rrgan.headers import FORMATS, encoded_size
from rrgan.level import level_step
from rrgan.metrics import quantize
from rrgan.models import Networks
from rrgan.tiling import blend_tiles, check_tiles
from rrgan.working_size import at_working_size, check_working_pixels, working_shape

SERVING_SIGNATURE = "serving_default"
ENCODED_SIGNATURE = "remove_encoded"
LIMITS_SIGNATURE = "limits"
UNLEVELLED_SIGNATURE = "remove_unlevelled"
LEVEL_SIGNATURE = "level"
TILE, OVERLAP = 512, 64  # pixels; the defaults of rrgan-remove too
_BLENDED_CHANNELS = {"transmission": 3, "attention": 1, "edge": 1}


@dataclass(frozen=True)
class ServingLimits:
    """What one request may ask of an exported model. Stored in it (the ``limits`` signature) and
    checked in its graph, so that no request can make TF Serving decode or run more than this."""

    max_pixels: int = DEFAULT_MAX_PIXELS  # per image: by its header (remove_encoded) or its shape
    max_batch: int = 16  # images per request

    def __post_init__(self):
        if self.max_pixels < 1 or self.max_batch < 1:
            raise RRGANError(f"serving limits must be positive, got {self.max_pixels} pixels and a batch of "
                             f"{self.max_batch} (--max-megapixels, --max-batch)")

    @property
    def megapixels(self) -> str:
        return f"{self.max_pixels / 1e6:g}"


DEFAULT_LIMITS = ServingLimits()

def _refuse(bad: tf.Tensor, message: tf.Tensor) -> tf.Operation:
    """InvalidArgumentError carrying ``message`` when ``bad`` is true (``refusal`` reads it back)."""
    return tf.debugging.Assert(tf.logical_not(bad), [message], summarize=1)


def refusal(error: tf.errors.InvalidArgumentError) -> str:
    """What a signature said when it refused a request (over a limit, not an image it reads),
    without TF's node names; the first line of any other InvalidArgumentError."""
    match = re.search(r"assertion failed: \[(.*?)\]\n", error.message)
    return match.group(1) if match else error.message.strip().splitlines()[0]


def _first(bad: tf.Tensor, sizes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The index and size row of the first image marked ``bad`` (index N and zeros when none)."""
    index = tf.argmax(tf.concat([tf.cast(bad, tf.int32), [1]], axis=0))
    return index, tf.concat([sizes, tf.zeros([1, 3], tf.int64)], axis=0)[index]


def _text(*parts) -> tf.Tensor:
    """A message of strings and integer tensors."""
    return tf.strings.join([part if isinstance(part, str) else tf.strings.as_string(part) for part in parts])


def _check_images(limits: ServingLimits, signature: str, sizes: tf.Tensor, by_header: bool) -> list[tf.Operation]:
    """Checks of a request's images, int64 [N, 3] of height, width and pixels to decode (-1: a
    format the model does not read)."""
    count = tf.shape(sizes, out_type=tf.int64)[0]
    checks = [_refuse(count > limits.max_batch, _text(
        f"{signature}: ", count, f" images in one request; this model takes at most {limits.max_batch} "
        "(rrgan-export --max-batch)"))]
    unreadable = sizes[:, 2] < 0
    index, _ = _first(unreadable, sizes)
    checks.append(_refuse(tf.reduce_any(unreadable), _text(f"{signature}: image ", index, f" is not {FORMATS}")))
    too_large = sizes[:, 2] > limits.max_pixels
    index, size = _first(too_large, sizes)
    megapixels = tf.strings.as_string(tf.cast(size[2], tf.float64) / 1e6, shortest=True)
    checks.append(_refuse(tf.reduce_any(too_large), _text(
        f"{signature}: image ", index, " is ", size[1], "x", size[0], " pixels", " by its header" if by_header else "",
        " (", megapixels, f" megapixels); this model takes at most {limits.megapixels} megapixels "
        "(rrgan-export --max-megapixels)")))
    return checks


class ServingBundle(tf.Module):
    """The nets a user needs to remove reflections (and the backbone they share), with serving signatures.

    ``serve`` and ``serve_encoded`` are tf.functions made per instance: a class-level tf.function
    method holds its object weakly and shares traces between instances, which broke when a bundle
    was used soon after another one had been exported and collected. ``limits`` is traced with the
    limits as a Python dict, so that ``saved_model_cli show --all`` prints their values.
    """

    def __init__(self, networks: Networks, tile: int = TILE, overlap: int = OVERLAP,
                 limits: ServingLimits = DEFAULT_LIMITS, working_pixels: int = 0):
        super().__init__(name="rrgan_bundle")
        check_tiles(tile, overlap)
        check_working_pixels(working_pixels)
        self.networks, self.tile, self.overlap, self.serving_limits = networks, tile, overlap, limits
        self.working_pixels = working_pixels
        # Tracked as attributes so that the SavedModel holds their weights (the backbone's too).
        self.edge_net = networks.edge_net
        self.attention_net = networks.attention_net
        self.generator = networks.generator
        self.backbone = networks.backbone
        self.attention_backbone = networks.attention_backbone
        self.level_net = networks.level_net
        self.presence_net = networks.presence_net
        images = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
        self.serve = tf.function(self._serve, input_signature=[images])
        self.serve_unlevelled = tf.function(self._serve_unlevelled, input_signature=[images])
        self.level = tf.function(
            self._level, input_signature=[images, tf.TensorSpec([None, None, None, 3], tf.uint8, name="transmission")])
        self.serve_encoded = tf.function(
            self._serve_encoded, input_signature=[tf.TensorSpec([None], tf.string, name="images")])
        self.limits = tf.function(lambda values: {key: tf.constant(value, tf.int64) for key, value in values.items()})

    def signatures(self) -> dict:
        """The SavedModel's signatures by name."""
        return {SERVING_SIGNATURE: self.serve, ENCODED_SIGNATURE: self.serve_encoded,
                LIMITS_SIGNATURE: self.limits.get_concrete_function(dataclasses.asdict(self.serving_limits)),
                UNLEVELLED_SIGNATURE: self.serve_unlevelled, LEVEL_SIGNATURE: self.level}

    def _remove_tile(self, images):
        outputs = self.networks.remove_reflection(tf.cast(images, tf.float32) / 255.0)
        return tf.concat([outputs[key] for key in _BLENDED_CHANNELS], axis=-1)

    def _blended(self, images):
        """``images`` through the nets in tiles: float32, the transmission in [0, 1], the attention, the edges."""
        return blend_tiles(self._remove_tile, images, sum(_BLENDED_CHANNELS.values()), self.tile, self.overlap)

    def _full_size(self, images):
        blended = self._blended(images)
        return quantize(blended[..., :3]), blended[..., 3:]

    def _checked(self, images, signature: str):
        """``images`` once they passed the limits (a request over them fails here)."""
        shape = tf.shape(images, out_type=tf.int64)
        area = shape[1] * shape[2]
        sizes = tf.tile(tf.stack([shape[1], shape[2], area])[tf.newaxis], [shape[0], 1])
        with tf.control_dependencies(_check_images(self.serving_limits, signature, sizes, by_header=False)):
            return tf.identity(images)

    def _serve(self, images):
        outputs = self._serve_unlevelled(images, SERVING_SIGNATURE)
        transmission = level_step(self.networks, images, outputs["transmission"])
        return {**outputs, "transmission": transmission, "reflection": reflection_of(images, transmission)}

    def _level(self, images, transmission):
        images = self._checked(images, LEVEL_SIGNATURE)
        return {"transmission": level_step(self.networks, images, transmission)}

    def _serve_unlevelled(self, images, signature: str = UNLEVELLED_SIGNATURE):
        images = self._checked(images, signature)
        shape = tf.shape(images, out_type=tf.int64)
        if self.working_pixels:
            size = working_shape(shape[1], shape[2], self.working_pixels)
            transmission, maps = tf.cond(tf.reduce_all(size == tf.cast(shape[1:3], tf.int32)),
                                         lambda: self._full_size(images),
                                         lambda: at_working_size(self._blended, images, size))
        else:
            transmission, maps = self._full_size(images)
        attention, edge = tf.split(maps, 2, axis=-1)
        return {"transmission": transmission, "reflection": reflection_of(images, transmission),
                "attention": attention, "edge": edge}

    def _serve_encoded(self, images):
        def one(encoded):
            image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
            transmission = self.serve(image[tf.newaxis])["transmission"][0]
            return tf.io.encode_png(transmission)

        sizes = tf.map_fn(encoded_size, images, fn_output_signature=tf.TensorSpec([3], tf.int64))
        with tf.control_dependencies(_check_images(self.serving_limits, ENCODED_SIGNATURE, sizes, by_header=True)):
            images = tf.identity(images)  # no image is decoded before every header passed
        return {"transmission_png": tf.map_fn(one, images, fn_output_signature=tf.string)}


def reflection_of(images, transmission):
    """I - T of uint8 tensors, clipped as a photo of it would be (``rrgan.inference.reflection_layer``
    for NumPy arrays)."""
    return tf.cast(tf.clip_by_value(tf.cast(images, tf.int16) - tf.cast(transmission, tf.int16), 0, 255), tf.uint8)


def next_version(model_dir: Path) -> int:
    if not model_dir.is_dir():
        return 1
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def export_bundle(networks: Networks, export_root: str | Path, model_name: str = "rrgan",
                  version: int | None = None, exist_ok: bool = False, tile: int = TILE, overlap: int = OVERLAP,
                  limits: ServingLimits = DEFAULT_LIMITS, working_pixels: int = 0) -> Path:
    """Write the SavedModel to ``export_root/model_name/version`` atomically and return that path.

    Versions are never overwritten; with ``exist_ok`` an existing version is returned as it is.
    """
    model_dir = Path(export_root) / model_name
    model_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(model_dir) if version is None else version
    final = model_dir / str(version)
    if final.exists() and exist_ok:
        return final
    if final.exists():
        raise RRGANError(f"{final}: version {version} already exists (versions are never overwritten)")
    bundle = ServingBundle(networks, tile, overlap, limits, working_pixels)
    with atomic_path(final, folder=True) as temporary:
        tf.saved_model.save(bundle, str(temporary), signatures=bundle.signatures())
    return final


# The nets a user needs, where present.
WEIGHT_FILES = ("edge_net", "attention_net", "generator", "level_net", "presence_head")


def save_weights(networks: Networks, config: Config, folder: str | Path) -> Path:
    """Write the bundle as a small weights folder (config.json + one .weights.h5 per net), the form
    shipped inside the package; written beside and renamed, so it is complete or absent."""
    folder = Path(folder)
    if folder.exists():
        raise RRGANError(f"{folder}: already exists")
    with atomic_path(folder, folder=True) as temporary:
        config.save(temporary / "config.json")
        for name in WEIGHT_FILES:
            if getattr(networks, name) is not None:
                getattr(networks, name).save_weights(str(temporary / f"{name}.weights.h5"))
    return folder


def find_saved_model(path: str | Path) -> Path:
    """A SavedModel folder, or the newest version under a TF Serving model folder."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    if path.is_dir():
        versions = sorted((p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                          key=lambda p: int(p.name))
        if versions:
            return versions[-1]
    raise RRGANError(f"{path}: no SavedModel here (expected saved_model.pb, or numbered version folders)")
