"""Inference speed and memory of the exported SavedModel, for the tiny and base presets.

    python benchmarks/inference.py [--presets tiny base] [--repeats 3]

For each preset: exports a bundle (random weights: speed does not depend on them), then, each
case in a fresh process so peak RSS is its own, prints milliseconds per megapixel (median of
--repeats runs after a warm-up) and the process's peak RSS for a 512x512 and a 1024x1024 photo
in one pass, and a 4000x3000 photo in 512-pixel tiles.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CASES = [("512x512", 512, 512, None), ("1024x1024", 1024, 1024, None), ("4000x3000 tiled", 3000, 4000, 512)]


def measure(model_path: str, height: int, width: int, tile: int | None, repeats: int) -> dict:
    """Runs in a child process: time remove_reflections on one photo, report peak RSS."""
    import resource
    import statistics
    import time

    import numpy as np

    from rrgan.inference import load_model, remove_reflections

    model = load_model(model_path)
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    tile = tile or max(height, width)
    remove_reflections(model, image, tile=tile)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        remove_reflections(model, image, tile=tile)
        times.append(time.perf_counter() - start)
    megapixels = height * width / 1e6
    return {"ms_per_megapixel": 1000 * statistics.median(times) / megapixels,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "base"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, height, width, tile, repeats = args.child
        print(json.dumps(measure(path, int(height), int(width), int(tile) or None, int(repeats))))
        return

    from rrgan.config import preset
    from rrgan.export import export_bundle
    from rrgan.models import build_networks

    with tempfile.TemporaryDirectory() as root:
        for name in args.presets:
            path = export_bundle(build_networks(preset(name).model), root, name)
            print(f"[{name}]")
            for label, height, width, tile in CASES:
                child = subprocess.run([sys.executable, __file__, "--child", str(path), str(height), str(width),
                                        str(tile or 0), str(args.repeats)], capture_output=True, text=True)
                if child.returncode:
                    print(f"  {label:16s} failed: {child.stderr.strip().splitlines()[-1]}")
                    continue
                result = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"  {label:16s} {result['ms_per_megapixel']:9.0f} ms/MP   "
                      f"peak RSS {result['peak_rss_gib']:.2f} GiB")


if __name__ == "__main__":
    main()
