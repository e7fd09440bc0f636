"""rrgan: single-image reflection removal with an attentive, edge-guided GAN."""

from pathlib import Path

__version__ = "0.2.0"

# A photo through glass with a reflection, made by docs/make_example.py from public-domain images.
EXAMPLE_PHOTO = Path(__file__).parent / "examples" / "window.jpg"

# Photos larger than this many pixels go through the model downscaled to it, and its correction is
# applied at full size (rrgan.working_size): rrgan-remove's, rrgan-eval's and rrgan-demo's default.
# Here, not in rrgan.working_size, so that the console scripts read it without importing TensorFlow.
WORKING_PIXELS = 1_000_000
