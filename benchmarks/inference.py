"""Inference speed and memory of the exported SavedModel's serving signature: presets and the shipped model.

    python benchmarks/inference.py [--models tiny cpu shipped runs/X] [--repeats 3] [--untiled]
                                   [--precision float32|mixed_bfloat16|auto] [--working-megapixels MP]

For each model: exports a bundle (presets with random weights: speed does not depend on them;
``shipped``: the weights in rrgan/pretrained; a path: that work dir's or weights folder's), then,
each case in a fresh process so that peak RSS is its own, calls the loaded ``serving_default``
signature on one photo (which tiles inside the graph, 512-pixel tiles) and prints milliseconds per
megapixel (median of --repeats calls after a warm-up; one call for 24 MP at full size), of wall
time and of the process's CPU time over all its threads (steadier than wall time on a shared
machine), and the process's peak RSS. ``--untiled``
exports without in-graph tiling, to compare memory with the whole photo in one pass.
``--working-megapixels`` exports with a working size (``rrgan.working_size``): the model at that
size, its correction applied at full size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = [("512x512", 512, 512), ("1 MP (1224x816)", 816, 1224), ("4 MP (2448x1632)", 1632, 2448),
         ("24 MP (6000x4000)", 4000, 6000)]


def measure(model_path: str, height: int, width: int, repeats: int) -> dict:
    """Runs in a child process: time the signature on one photo, report peak RSS."""
    import statistics
    import time

    import numpy as np
    import tensorflow as tf

    from rrgan.memory import peak_rss_gib

    signature = tf.saved_model.load(model_path).signatures["serving_default"]
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8))
    signature(images=image[:, :64, :64])  # trace and load outside the timing
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        signature(images=image)["transmission"].numpy()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    megapixels = height * width / 1e6
    return {"ms_per_megapixel": 1000 * statistics.median(times) / megapixels,
            "cpu_ms_per_megapixel": 1000 * statistics.median(cpu_times) / megapixels, "peak_rss_gib": peak_rss_gib()}


def _networks(name: str, precision: str):
    from rrgan.config import preset
    from rrgan.inference import compute_precision, load_networks
    from rrgan.layers import dtype_policy
    from rrgan.models import build_networks

    if name == "shipped" or Path(name).exists():
        return load_networks(None if name == "shipped" else name, precision=precision)
    with dtype_policy(compute_precision(precision)):
        return build_networks(preset(name).model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "cpu", "shipped"],
                        help="preset names, 'shipped' for the weights in the package, or a work dir or weights folder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--untiled", action="store_true", help="export without in-graph tiling")
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16", "auto"),
                        help="compute dtype of the exported networks (default: float32)")
    parser.add_argument("--working-megapixels", type=float, default=0.0,
                        help="export with this working size (default: 0, the model at full size)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, height, width, repeats = args.child
        print(json.dumps(measure(path, int(height), int(width), int(repeats))))
        return

    from rrgan.export import TILE, export_bundle

    tile = 100_000 if args.untiled else TILE
    with tempfile.TemporaryDirectory() as root:
        for name in args.models:
            working_pixels = int(args.working_megapixels * 1e6)
            path = export_bundle(_networks(name, args.precision), root, name, tile=tile, working_pixels=working_pixels)
            print(f"[{name}] serving_default, {args.precision}, "
                  f"{'no tiling' if args.untiled else f'{tile}-pixel tiles in the graph'}, "
                  f"{f'working size {args.working_megapixels:g} MP' if working_pixels else 'full size'}")
            for label, height, width in CASES:
                repeats = 1 if height * width > 10_000_000 and not working_pixels else args.repeats
                child = subprocess.run([sys.executable, __file__, "--child", str(path), str(height), str(width),
                                        str(repeats)], capture_output=True, text=True)
                if child.returncode:
                    reason = (child.stderr.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
                    print(f"  {label:18s} failed: {reason}")
                    continue
                result = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"  {label:18s} {result['ms_per_megapixel']:9.0f} ms/MP   "
                      f"{result.get('cpu_ms_per_megapixel', float('nan')):9.0f} CPU ms/MP   "
                      f"peak RSS {result['peak_rss_gib']:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
