"""Export the generator bundle (Attention-net, Edge-net, generator) as ONE SavedModel for TF Serving.

Layout: ``<export_root>/<model_name>/<version>/`` with an integer version (the next free one by
default), written under a temporary name and renamed, so TF Serving never sees half a version.

Signatures:
    serving_default(images: uint8 [N, H, W, 3]) -> transmission (uint8), reflection (uint8, I - T clipped),
        attention (float32 [N, H, W, 1], the reflection map), edge (float32 [N, H, W, 1]); any H and W.
    remove_encoded(images: string [N]) -> transmission_png (string [N]): JPEG / PNG / BMP / GIF
        bytes in (as TF Serving's REST API receives base64), PNG bytes out.
Both run a photo larger than ``tile`` pixels in overlapping tiles inside the graph (``rrgan.tiling``),
so a phone photo posted to TF Serving takes the memory of one tile, not of the whole photo.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from rrgan.config import Config
from rrgan.errors import RRGANError
from rrgan.files import atomic_path
from rrgan.metrics import quantize
from rrgan.models import Networks
from rrgan.tiling import blend_tiles, check_tiles

SERVING_SIGNATURE = "serving_default"
ENCODED_SIGNATURE = "remove_encoded"
TILE, OVERLAP = 512, 64  # pixels; the defaults of rrgan-remove too
_BLENDED_CHANNELS = {"transmission": 3, "attention": 1, "edge": 1}


class ServingBundle(tf.Module):
    """The nets a user needs to remove reflections (and the backbone they share), with serving signatures.

    ``serve`` and ``serve_encoded`` are tf.functions made per instance: a class-level tf.function
    method holds its object weakly and shares traces between instances, which broke when a bundle
    was used soon after another one had been exported and collected.
    """

    def __init__(self, networks: Networks, tile: int = TILE, overlap: int = OVERLAP):
        super().__init__(name="rrgan_bundle")
        check_tiles(tile, overlap)
        self.networks, self.tile, self.overlap = networks, tile, overlap
        # Tracked as attributes so that the SavedModel holds their weights (the backbone's too).
        self.edge_net = networks.edge_net
        self.attention_net = networks.attention_net
        self.generator = networks.generator
        self.backbone = networks.backbone
        self.serve = tf.function(
            self._serve, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
        self.serve_encoded = tf.function(
            self._serve_encoded, input_signature=[tf.TensorSpec([None], tf.string, name="images")])

    def _remove_tile(self, images):
        outputs = self.networks.remove_reflection(tf.cast(images, tf.float32) / 255.0)
        return tf.concat([outputs[key] for key in _BLENDED_CHANNELS], axis=-1)

    def _serve(self, images):
        blended = blend_tiles(self._remove_tile, images, sum(_BLENDED_CHANNELS.values()), self.tile, self.overlap)
        outputs = dict(zip(_BLENDED_CHANNELS, tf.split(blended, list(_BLENDED_CHANNELS.values()), axis=-1)))
        transmission = quantize(outputs["transmission"])
        # I - T of the transmission given back, clipped as a photo of it would be (rrgan.inference.reflection_layer)
        reflection = tf.clip_by_value(tf.cast(images, tf.int16) - tf.cast(transmission, tf.int16), 0, 255)
        return {"transmission": transmission, "reflection": tf.cast(reflection, tf.uint8),
                "attention": outputs["attention"], "edge": outputs["edge"]}

    def _serve_encoded(self, images):
        def one(encoded):
            image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
            transmission = self.serve(image[tf.newaxis])["transmission"][0]
            return tf.io.encode_png(transmission)

        return {"transmission_png": tf.map_fn(one, images, fn_output_signature=tf.string)}


def next_version(model_dir: Path) -> int:
    if not model_dir.is_dir():
        return 1
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def export_bundle(networks: Networks, export_root: str | Path, model_name: str = "rrgan",
                  version: int | None = None, exist_ok: bool = False, tile: int = TILE, overlap: int = OVERLAP) -> Path:
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
    bundle = ServingBundle(networks, tile, overlap)
    with atomic_path(final, folder=True) as temporary:
        tf.saved_model.save(bundle, str(temporary), signatures={SERVING_SIGNATURE: bundle.serve,
                                                                ENCODED_SIGNATURE: bundle.serve_encoded})
    return final


WEIGHT_FILES = ("edge_net", "attention_net", "generator")


def save_weights(networks: Networks, config: Config, folder: str | Path) -> Path:
    """Write the bundle as a small weights folder (config.json + one .weights.h5 per net), the form
    shipped inside the package; written beside and renamed, so it is complete or absent."""
    folder = Path(folder)
    if folder.exists():
        raise RRGANError(f"{folder}: already exists")
    with atomic_path(folder, folder=True) as temporary:
        config.save(temporary / "config.json")
        for name in WEIGHT_FILES:
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
