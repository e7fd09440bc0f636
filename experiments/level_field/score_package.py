"""Score a trained Level-net of the package (a work dir or weights folder) at several mixes, on the
cached outputs of the same generator (``cache_outputs.py``): the level step is all that differs,
so each mix costs the step alone. ``rrgan.evaluation`` scores, as rrgan-eval does.

    python experiments/level_field/score_package.py runs/level31 runs/eval/real89_holdout \
        ../shared/data/val/nature20 --mix 0.25 0.5 1 --cache runs/eval/cache/shipped -o runs/level31/mix.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

import pandas as pd

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.evaluation import evaluate, summarize
from rrgan.inference import load_networks
from rrgan.level import level_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--mix", type=float, nargs="+", default=[0.5])
    parser.add_argument("--cache", default="runs/eval/cache/shipped")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    networks = load_networks(args.model, "auto")
    generated = {}
    for folder in args.folders:
        for pair_set in find_pair_sets(folder):
            for pair in pair_set.pairs:
                key = hashlib.sha1(read_rgb(pair.input).tobytes()).hexdigest()
                generated[key] = Path(args.cache) / Path(folder).name / f"{pair.input.stem}.png"

    def cached(image):
        return read_rgb(generated[hashlib.sha1(image.tobytes()).hexdigest()])

    def levelled(mix):
        mixed = dataclasses.replace(networks, level_mix=mix)
        return lambda image: level_step(mixed, image[None], cached(image)[None])[0].numpy()

    methods = {"generator": cached, **{f"level {mix:g}": levelled(mix) for mix in args.mix}}
    summary = pd.concat([summarize(evaluate(methods, [folder], progress=False)) for folder in args.folders])
    summary.to_csv(args.output, index=False)
    print(summary.to_string(index=False, float_format=lambda value: f"{value:.3f}"))


if __name__ == "__main__":
    main()
