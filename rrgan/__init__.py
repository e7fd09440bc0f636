"""rrgan: single-image reflection removal with an attentive, edge-guided GAN."""

from pathlib import Path

__version__ = "0.2.0"

# A photo through glass with a reflection, made by docs/make_example.py from public-domain images.
EXAMPLE_PHOTO = Path(__file__).parent / "examples" / "window.jpg"
