"""The SavedModel under load, driven the way a server drives it: one process, one loaded model,
client threads calling its ``remove_encoded`` signature concurrently.

    python benchmarks/serving_load.py [--model SAVED_MODEL] [--requests 200] [--threads 4]
                                      [--precision mixed_bfloat16]

Requests cycle through a fixed, seeded mix: JPEGs of 0.3, 1, 4 and 24 megapixels (most of them
small, as a web client's are) and malformed ones (random bytes, an empty string, a truncated JPEG,
a PNG whose header declares 20000 x 20000 pixels). Prints throughput, latency percentiles per
kind, errors by kind and RSS, and fails (exit status 1) when a good request did not come back as a
PNG of its own size, a malformed one was not refused with InvalidArgumentError, or RSS after all
requests grew more than 10% over RSS after the first 20 (a leak grows with the requests).
Without --model it exports the shipped model first.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

GOOD = {"0.3 MP": (480, 640), "1 MP": (768, 1280), "4 MP": (1536, 2560), "24 MP": (4000, 6000)}
MALFORMED = ("random bytes", "empty", "truncated JPEG", "PNG bomb")
# One cycle of 50 requests: 30 x 0.3 MP, 10 x 1 MP, 4 x 4 MP, 1 x 24 MP, 5 malformed; every kind
# in its first ten, so that the first EARLY requests have met the largest photo.
CYCLE = ["24 MP", "4 MP", "1 MP", "0.3 MP", *MALFORMED, "0.3 MP"] + (
    ["0.3 MP"] * 28 + ["1 MP"] * 9 + ["4 MP"] * 3 + ["random bytes"])
GROWTH_LIMIT = 0.10
EARLY = 20  # the RSS that the end is compared with: after the first this many requests


@dataclass
class Result:
    kind: str
    seconds: float
    error: str | None  # the exception's class name, None for a response
    correct: bool  # a good request came back as a PNG of its size, or a malformed one was refused


def _jpeg(height: int, width: int, seed: int) -> bytes:
    """A photo-like JPEG: smooth gradients and a little noise, so it compresses as photos do."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 64 + 2, width // 64 + 2, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(image, np.int16) + rng.integers(-8, 9, (height, width, 3), dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _png_bomb(side: int = 20000) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(bytes(side + 1)) for _ in range(side)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def request_bodies() -> dict[str, bytes]:
    """Every kind of request's bytes, made once (the 24 MP JPEG takes a few seconds to encode)."""
    bodies = {kind: _jpeg(height, width, seed) for seed, (kind, (height, width)) in enumerate(GOOD.items())}
    bodies["random bytes"] = np.random.default_rng(9).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    bodies["empty"] = b""
    bodies["truncated JPEG"] = bodies["1 MP"][: len(bodies["1 MP"]) // 3]
    bodies["PNG bomb"] = _png_bomb()
    return bodies


def _export_shipped(root: str, precision: str) -> str:
    from rrgan.export import export_bundle
    from rrgan.inference import load_networks

    return str(export_bundle(load_networks(precision=precision), root, "rrgan"))


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(model: str, requests: int, threads: int) -> bool:
    import tensorflow as tf

    from rrgan.memory import peak_rss_gib, rss_gib

    bodies = request_bodies()
    encode = tf.saved_model.load(model).signatures["remove_encoded"]
    encode(images=tf.constant([bodies["0.3 MP"]]))  # a server's first request builds the graph
    kinds = [CYCLE[i % len(CYCLE)] for i in range(requests)]

    def one(kind: str) -> Result:
        start = time.perf_counter()
        try:
            png = encode(images=tf.constant([bodies[kind]]))["transmission_png"][0].numpy()
            error = None
        except tf.errors.InvalidArgumentError:
            png, error = None, "InvalidArgumentError"
        except Exception as err:  # noqa: BLE001 - a server would answer 500: count it, by kind
            png, error = None, type(err).__name__
        seconds = time.perf_counter() - start
        if kind in GOOD:
            correct = png is not None and Image.open(io.BytesIO(png)).size[::-1] == GOOD[kind]
        else:
            correct = error == "InvalidArgumentError"
        return Result(kind, seconds, error, correct)

    start, rss_after = time.perf_counter(), {}
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, kinds[:EARLY]))  # every one answered before the baseline is read
        rss_after[EARLY] = rss_gib()
        results += pool.map(one, kinds[EARLY:])
        rss_after[requests] = rss_gib()
    wall = time.perf_counter() - start

    good = [r for r in results if r.kind in GOOD]
    megapixels = sum(GOOD[r.kind][0] * GOOD[r.kind][1] for r in good) / 1e6
    print(f"{requests} requests, {threads} threads, {wall:.1f} s: {requests / wall:.2f} requests/s, "
          f"{megapixels / wall:.2f} MP/s of good photos")
    print(f"{'kind':16s} {'count':>5s} {'p50 ms':>9s} {'p99 ms':>9s}  errors")
    for kind in dict.fromkeys(CYCLE):
        of_kind = [r for r in results if r.kind == kind]
        times = [1000 * r.seconds for r in of_kind]
        errors = Counter(r.error for r in of_kind if r.error)
        print(f"{kind:16s} {len(of_kind):5d} {_percentile(times, 50):9.0f} {_percentile(times, 99):9.0f}  "
              + (", ".join(f"{count} {name}" for name, count in errors.items()) or "0"))
    every = [1000 * r.seconds for r in results]
    print(f"{'all':16s} {len(results):5d} {_percentile(every, 50):9.0f} {_percentile(every, 99):9.0f}")
    growth = rss_after[requests] / rss_after[EARLY] - 1
    print(f"RSS after {EARLY} requests {rss_after[EARLY]:.2f} GiB, after {requests} {rss_after[requests]:.2f} GiB "
          f"({growth:+.1%}), peak {peak_rss_gib():.2f} GiB")

    wrong = [r for r in results if not r.correct]
    for r in wrong[:5]:
        print(f"wrong: a {r.kind} request got {r.error or 'a response'}")
    passed = not wrong and growth <= GROWTH_LIMIT
    print("PASS" if passed else f"FAIL: {len(wrong)} wrong response(s), RSS growth {growth:+.1%} "
                                f"(limit {GROWTH_LIMIT:+.0%})")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a SavedModel folder (default: export the shipped model)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--precision", default="mixed_bfloat16", choices=("float32", "mixed_bfloat16", "auto"),
                        help="compute dtype when exporting the shipped model")
    args = parser.parse_args()
    if args.requests <= EARLY:
        parser.error(f"--requests must be over {EARLY}: RSS after {EARLY} is the baseline of the growth check")
    with tempfile.TemporaryDirectory() as root:
        model = args.model or _export_shipped(root, args.precision)
        sys.exit(0 if run(model, args.requests, args.threads) else 1)


if __name__ == "__main__":
    main()
