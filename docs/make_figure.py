"""Make the README's figure with the shipped model: the example photo | rrgan's output | the clean scene |
the clean scene through rrgan (PSNR against itself).
With ``--model LABEL=PATH`` (repeatable), one column per model instead, each titled with its PSNR.

Run from the project root after docs/make_example.py: python docs/make_figure.py
    python docs/make_figure.py --model "GPU a=runs/gpu/a_7649" -o docs/example_models.jpg
"""

import argparse
from pathlib import Path

import numpy as np

from rrgan import EXAMPLE_PHOTO
from rrgan.data.images import read_rgb
from rrgan.inference import load_model, remove_reflections
from rrgan.metrics import psnr
from rrgan.visualize import image_grid, save_image

docs = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", action="append", default=[], metavar="LABEL=PATH",
                    help="a model beside the shipped one (a weights folder, work dir or SavedModel)")
parser.add_argument("-o", "--output", type=Path, default=docs / "figure.png")
args = parser.parse_args()

photo, clean = read_rgb(EXAMPLE_PHOTO), read_rgb(docs / "window_clean.jpg")
models = [("rrgan (shipped model)", None)] + [tuple(spec.split("=", 1)) for spec in args.model]
outputs = [remove_reflections(load_model(path), photo)["transmission"] for _, path in models]
titles = [label for label, _ in models]
if args.model:
    titles = [f"{label}: {psnr(output, clean):.2f} dB" for label, output in zip(titles, outputs)]
    grid = image_grid([[photo, *outputs, clean]], titles=("photo through glass", *titles, "clean scene"))
else:  # and the clean scene given to the model: a photo without glass should come back as it went in
    untouched = remove_reflections(load_model(), clean)["transmission"]
    score = psnr(untouched, clean)
    verdict = "exactly as it went in" if np.isinf(score) else f"{score:.1f} dB"
    grid = image_grid([[photo, *outputs, clean, untouched]],
                      titles=("photo through glass", *titles, "clean scene", f"clean scene through rrgan: {verdict}"))
print(save_image(args.output, grid))
