"""Make the example photo shipped in the package (rrgan/examples/window.jpg), and its clean scene
(docs/window_clean.jpg, for the README's figure): a photo "through glass"
blended by rrgan's own Zhang et al. recipe from two public images that ship with scikit-image:
``coffee`` (CC0, Rachel Michetti) as the scene and ``astronaut`` (public domain, NASA) as the
reflection. Run from the project root: python docs/make_example.py
"""

from pathlib import Path

import numpy as np
import tensorflow as tf
from skimage import data

from rrgan.config import SynthesisConfig
from rrgan.data.synthesis import synthesize
from rrgan.visualize import save_image

scene = data.coffee().astype(np.float32) / 255.0  # 400 x 600
reflection = 0.6 * tf.image.resize(data.astronaut()[56:456, 0:512].astype(np.float32) / 255.0, scene.shape[:2])
config = SynthesisConfig(recipes=("zhang",), zhang_sigma=(2.0, 2.0), zhang_alpha=(0.9, 0.9))
photo, transmission, _ = synthesize(scene, reflection, tf.constant([7, 0]), config)
root = Path(__file__).resolve().parents[1]
print(save_image(root / "rrgan" / "examples" / "window.jpg", photo.numpy(), jpeg_quality=92))
print(save_image(root / "docs" / "window_clean.jpg", transmission.numpy(), jpeg_quality=92))  # for the figure
