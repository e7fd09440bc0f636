"""A weights folder that ``rrgan-eval --model`` and ``rrgan-remove --model`` load: the shipped
Edge-net and Attention-net (as ``train_jax.py`` froze them) with a generator snapshot it saved.

    python experiments/gpu_budget/assemble.py OUT/generator_N.npz runs/gpu/N
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from rrgan.export import WEIGHT_FILES
from rrgan.inference import load_config, load_weights, pretrained_folder
from rrgan.models import build_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator", type=Path)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(pretrained_folder() / "config.json", args.folder)
    for name in WEIGHT_FILES:
        if (pretrained_folder() / f"{name}.weights.h5").is_file():
            shutil.copy(pretrained_folder() / f"{name}.weights.h5", args.folder)
    generator = build_generator(load_config(args.folder).model)
    snapshot = np.load(args.generator)
    variables = generator.trainable_variables + generator.non_trainable_variables
    if sorted(v.path for v in variables) != sorted(snapshot.files):
        raise SystemExit(f"{args.generator}: its variables are not those of the shipped generator")
    for variable in variables:
        variable.assign(snapshot[variable.path].astype(np.float32))
    generator.save_weights(str(args.folder / "generator.weights.h5"))
    load_weights(args.folder)
    print(f"{args.folder}: the shipped auxiliary nets with {args.generator}")


if __name__ == "__main__":
    main()
