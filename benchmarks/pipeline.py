"""Crops per second of the training pipeline from TFRecords (256x256, synthesis on, batch 8).

    python benchmarks/pipeline.py [--data ../shared/data/train] [--batches 60]

Converts the pair folders under --data to TFRecords in a temporary folder (timed separately),
then times batches after a warm-up, and prints the median over a few repeats. Target on a 2-core
machine: at least 50 crops/s, so the pipeline never starves a GPU training step.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from rrgan.config import preset
from rrgan.data.pairs import find_pair_sets
from rrgan.data.pipeline import training_dataset
from rrgan.data.tfrecords import write_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "train"))
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    config = dataclasses.replace(preset("base").data, crop_size=256)
    with tempfile.TemporaryDirectory() as shards:
        start = time.perf_counter()
        written = sum(write_pairs(s.pairs, shards, s.root.name, progress=False).written
                      for s in find_pair_sets(args.data))
        print(f"converted {written} pairs to TFRecords in {time.perf_counter() - start:.1f} s")

        iterator = iter(training_dataset([shards], config, batch_size=args.batch_size, seed=0))
        for _ in range(10):  # warm-up: fills the shuffle buffer and traces the map functions
            next(iterator)
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for _ in range(args.batches):
                next(iterator)
            rates.append(args.batches * args.batch_size / (time.perf_counter() - start))
    print(f"crops/s (256x256, real_fraction={config.real_fraction}, synthesis on, batch {args.batch_size}): "
          f"median {statistics.median(rates):.1f} over {args.repeats} runs of {args.batches} batches "
          f"({', '.join(f'{r:.1f}' for r in rates)})")


if __name__ == "__main__":
    main()
