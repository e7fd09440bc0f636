"""Make the README's figure with the shipped model: the example photo | rrgan's output | the clean scene.

Run from the project root after docs/make_example.py: python docs/make_figure.py
"""

from pathlib import Path

from rrgan import EXAMPLE_PHOTO
from rrgan.data.images import read_rgb
from rrgan.inference import load_model, remove_reflections
from rrgan.visualize import image_grid, save_image

docs = Path(__file__).resolve().parent
photo = read_rgb(EXAMPLE_PHOTO)
output = remove_reflections(load_model(), photo)["transmission"]
grid = image_grid([[photo, output, read_rgb(docs / "window_clean.jpg")]],
                  titles=("photo through glass", "rrgan (shipped model)", "clean scene"))
print(save_image(docs / "figure.png", grid))
