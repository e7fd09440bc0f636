"""Pack the training data of a ``cpu-long`` run into one small file for a GPU machine without TensorFlow.

The same split as ``rrgan-train`` (``data.photo_holdout``, ``data.pair_holdout`` and the pair
filters, by rrgan's own functions): the training photos, and the real pairs it trains on, each
resized to a short side of ``--size`` and centre-cropped to a square, WebP-encoded (the file
must fit the device tool's 64 MiB beside the repo). Held-out
photos and pairs stay out, so rrgan-eval's checks stay held out for what trains on this file.

    python experiments/gpu_budget/pack.py --pairs ../shared/data/train --photos ../shared/data/photos \
        --set data.pair_holdout=0.15 --set data.pair_brightness_ratio=0.1,1.03 -o .gpu/data.npz
"""

from __future__ import annotations

import argparse
import io

import numpy as np
import tensorflow as tf
from PIL import Image

from rrgan.config import preset
from rrgan.data.images import read_rgb
from rrgan.data.pipeline import check_pairs, collect_sources, held_out


def square(image: np.ndarray, size: int) -> Image.Image:
    """Resized to a short side of ``size`` (area-averaged) and centre-cropped to ``size`` x ``size``."""
    picture = Image.fromarray(image)
    scale = size / min(picture.size)
    width, height = max(size, round(picture.width * scale)), max(size, round(picture.height * scale))
    picture = picture.resize((width, height), Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    return picture.crop((left, top, left + size, top + size))


def webp(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", quality=quality)
    return buffer.getvalue()


def blobs(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Many byte strings as one uint8 array and the offsets that cut it."""
    offsets = np.cumsum([0] + [len(b) for b in encoded])
    return np.frombuffer(b"".join(encoded), np.uint8), offsets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="*", default=[])
    parser.add_argument("--photos", nargs="*", default=[])
    parser.add_argument("--preset", default="cpu-long")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--max-pairs-per-set", type=int, default=0, help="0: all")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    config = preset(args.preset).override(args.set).data

    inputs, targets, pair_names = [], [], []
    per_set: dict[str, int] = {}
    for check, pair in check_pairs(args.pairs, config):
        if check.held_out or check.left_out_by:
            continue
        if args.max_pairs_per_set and per_set.get(check.pair_set, 0) >= args.max_pairs_per_set:
            continue
        per_set[check.pair_set] = per_set.get(check.pair_set, 0) + 1
        inputs.append(webp(square(pair["input"].numpy(), args.size), args.quality))
        targets.append(webp(square(pair["target"].numpy(), args.size), args.quality))
        pair_names.append(f"{check.pair_set}/{check.name}")

    photos = collect_sources(photos=args.photos).photos
    kept = [p for p, held in zip(photos, held_out(tf.constant([p.stem for p in photos]),
                                                   config.photo_holdout).numpy()) if not held]
    photo_bytes = [webp(square(read_rgb(path), args.size), args.quality) for path in kept]

    arrays = {}
    for key, encoded in (("input", inputs), ("target", targets), ("photo", photo_bytes)):
        arrays[f"{key}_bytes"], arrays[f"{key}_offsets"] = blobs(encoded)
    np.savez(args.output, pair_names=np.array(pair_names), **arrays)
    total = sum(a.nbytes for a in arrays.values()) / 2**20
    print(f"{args.output}: {len(pair_names)} pairs {per_set}, {len(photo_bytes)} photos "
          f"({len(photos) - len(kept)} held out), {total:.1f} MiB")


if __name__ == "__main__":
    main()
