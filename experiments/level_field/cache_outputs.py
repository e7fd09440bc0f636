"""Write a model's outputs on pair folders as PNGs, once, so experiments on its output need not rerun it.

    python experiments/level_field/cache_outputs.py -o runs/eval/cache/shipped FOLDER ... [--model M]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.inference import load_model, remove_reflections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--model", default=None)
    parser.add_argument("--working-pixels", type=int, default=0, help="0: full size")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    model = load_model(args.model)
    for folder in args.folders:
        for pair_set in find_pair_sets(folder):
            out = Path(args.output) / Path(folder).name
            out.mkdir(parents=True, exist_ok=True)
            for pair in pair_set.pairs:
                path = out / f"{pair.input.stem}.png"
                if not path.exists():
                    output = remove_reflections(model, read_rgb(pair.input), working_pixels=args.working_pixels)
                    Image.fromarray(output["transmission"]).save(path)
            print(out, len(pair_set.pairs), flush=True)


if __name__ == "__main__":
    main()
